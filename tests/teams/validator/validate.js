// Parses, validates and renders Adaptive Cards with Microsoft's own renderer (npm adaptivecards), as Teams'
// clients do. Usage: node validate.js cards.json, where cards.json maps a name to a card. Prints
// {"name": ["problem", ...]} for every card with a parse or validation event or a render failure; exits 1 then.
"use strict";

const fs = require("fs");
const { JSDOM } = require("jsdom");

const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>", { pretendToBeVisual: true, url: "https://teams.example/" });
for (const name of Object.getOwnPropertyNames(dom.window)) {  // document, HTMLInputElement, getComputedStyle...
  if (!(name in globalThis)) {
    Object.defineProperty(globalThis, name, { value: dom.window[name], configurable: true, writable: true });
  }
}
Object.defineProperty(globalThis, "window", { value: dom.window, configurable: true, writable: true });
console.log = console.error;  // the library logs now and then: stdout carries the verdict alone

// The package's "main" is ES modules without file extensions, which Node can't load: its UMD bundle can.
const AC = require("adaptivecards/dist/adaptivecards.js");

function describe(event) {
  const type = event.source && typeof event.source.getJsonTypeName === "function"
    ? event.source.getJsonTypeName() : "card";
  return `${AC.ValidationPhase[event.phase]} ${AC.ValidationEvent[event.event]} (${type}): ${event.message}`;
}

function problemsOf(json) {
  const problems = [];
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  card.parse(json, context);
  for (let i = 0; i < context.eventCount; i++) {
    problems.push(describe(context.getEventAt(i)));
  }
  for (const event of card.validateProperties().validationEvents) {
    problems.push(describe(event));
  }
  try {
    const rendered = card.render();
    if (!rendered) {
      problems.push("Render: the renderer produced nothing");
    }
  } catch (error) {
    problems.push(`Render: ${error && error.stack ? error.stack : error}`);
  }
  return problems;
}

const cards = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const failures = {};
for (const [name, json] of Object.entries(cards)) {
  const problems = problemsOf(json);
  if (problems.length > 0) {
    failures[name] = problems;
  }
}
process.stdout.write(JSON.stringify(failures, null, 1) + "\n");
process.exit(Object.keys(failures).length > 0 ? 1 : 0);
