// Validates the AsyncAPI document of passerelle's bus (schemas/asyncapi.yaml, or the
// file given as argument) with the official AsyncAPI parser, resolving its relative
// $refs to the JSON Schemas beside it. Exits non-zero on any diagnostic of severity
// error, and prints the others.
//
// The event data are JSON Schemas of draft 2020-12, which AsyncAPI 3.0 does not list
// among the formats every tool supports (its JSON Schema is draft-07): the document
// declares them with the schemaFormat "application/schema+json;version=2020-12", and
// this script registers a schema parser for it that compiles them with Ajv's 2020-12
// validator. It then checks every message example: payloads against their schema,
// headers against the headers schema. The parser itself does neither for AsyncAPI 3.
//
// Usage: npm ci --prefix .ci/asyncapi && node .ci/asyncapi/validate.mjs [file]
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';
import Ajv07 from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = path.resolve(process.argv[2] ?? path.join(here, '..', '..', 'schemas', 'asyncapi.yaml'));

// The media types of JSON Schema draft 2020-12, as AsyncAPI names draft-07's.
const jsonSchema2020 = [
  'application/schema;version=2020-12',
  'application/schema+json;version=2020-12',
  'application/schema+yaml;version=2020-12',
];

// withoutParserKeys returns a copy of a resolved schema without the x-parser-* keys
// the AsyncAPI parser adds to every schema it has seen.
function withoutParserKeys(v) {
  if (Array.isArray(v)) return v.map(withoutParserKeys);
  if (v === null || typeof v !== 'object') return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    if (!k.startsWith('x-parser-')) out[k] = withoutParserKeys(x);
  }
  return out;
}

// compile2020 compiles a draft 2020-12 schema, unknown keywords and formats being
// errors, each in a validator of its own: the same schema file is embedded in several
// messages, with the same $id.
function compile2020(schema) {
  const ajv = new Ajv2020({ strictSchema: true, strictTypes: false, strictRequired: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(withoutParserKeys(schema));
}

// Headers schemas are AsyncAPI Schema Objects: draft-07 plus a few keywords of AsyncAPI's own.
function compileAsyncAPISchema(schema) {
  const ajv = new Ajv07({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(withoutParserKeys(schema));
}

const schemaParser2020 = {
  getMimeTypes: () => jsonSchema2020,
  async validate(input) {
    try {
      compile2020(input.data);
      return [];
    } catch (err) {
      return [{ message: `not a valid JSON Schema draft 2020-12: ${err.message}`, path: input.path }];
    }
  },
  async parse(input) {
    compile2020(input.data); // throws: the parser reports it as an error diagnostic
    return input.data;
  },
};

const severities = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

const parser = new Parser({ schemaParsers: [schemaParser2020] });
const { document, diagnostics } = await fromFile(parser, file).parse();

let errors = 0;
for (const d of diagnostics) {
  if (d.severity === DiagnosticSeverity.Error) errors++;
  const where = d.range ? `${path.relative(process.cwd(), d.source ?? file)}:${d.range.start.line + 1}` : file;
  console.log(`${severities[d.severity] ?? d.severity}: ${where}: ${d.message} [${d.code}] at /${(d.path ?? []).join('/')}`);
}

const fail = (msg) => {
  errors++;
  console.log(`error: ${msg}`);
};

if (document) {
  let messages = 0;
  let examples = 0;
  for (const message of document.allMessages()) {
    messages++;
    const id = message.id();
    let payload;
    let headers;
    try {
      if (message.hasPayload()) {
        const schema = message.payload();
        const format = schema.schemaFormat();
        if (jsonSchema2020.includes(format)) {
          payload = compile2020(schema.json().schema);
        } else if (format === `application/vnd.aai.asyncapi;version=${document.version()}`) {
          payload = compileAsyncAPISchema(schema.json());
        } else {
          fail(`message ${id}: payload schemaFormat ${format} is neither JSON Schema draft 2020-12 nor AsyncAPI's`);
        }
      }
      if (message.hasHeaders()) {
        headers = compileAsyncAPISchema(message.headers().json());
      }
    } catch (err) {
      fail(`message ${id}: ${err.message}`);
      continue;
    }
    for (const [i, ex] of message.examples().all().entries()) {
      examples++;
      const name = `message ${id} example ${ex.name() ?? i}`;
      if (payload && ex.hasPayload() && !payload(ex.payload())) {
        fail(`${name}: payload: ${JSON.stringify(payload.errors)}`);
      }
      if (headers && ex.hasHeaders() && !headers(ex.headers())) {
        fail(`${name}: headers: ${JSON.stringify(headers.errors)}`);
      }
      if (headers && !ex.hasHeaders()) fail(`${name}: no headers`);
    }
  }
  console.log(`${path.relative(process.cwd(), file)}: AsyncAPI ${document.version()}, ${document.channels().length} channels, ${document.operations().length} operations, ${messages} messages, ${examples} examples checked`);
} else if (errors === 0) {
  fail('the parser returned no document');
}

if (errors > 0) {
  console.log(`${errors} error(s)`);
  process.exit(1);
}
