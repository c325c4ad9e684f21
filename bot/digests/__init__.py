"""The weekly digest: customer and employee signals, team by team, with privacy minimums and charts."""
