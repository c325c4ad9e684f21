"""Microsoft Teams through botbuilder. Every botbuilder import of the project lives in this folder."""
