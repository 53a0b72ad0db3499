/**
 * The AWS Lambda service model, as the compatibility suite checks Kindling's raw responses against it.
 *
 * Source: what @aws-sdk/client-lambda itself ships, so it works after `npm ci` with no python/botocore:
 * - the runtime smithy schemas the package exports (`GetFunction$`, `FunctionConfiguration$`, …) give operations,
 *   HTTP bindings, members, member types and required members (a structure schema's 7th slot counts its leading
 *   required members);
 * - the compact schemas drop enum traits, operation errors and number widths, so those come from the package's own
 *   declarations: member types naming an enum in dist-types/models/*.d.ts, `@throws` lines and the commented example
 *   output (`Number("int")`) in dist-types/commands/*Command.d.ts.
 */
import { AssertionError } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as sdk from '@aws-sdk/client-lambda';
import { NormalizedSchema } from '@smithy/core/schema';

export interface ShapeProblem {
  path: string;
  problem: string;
}

export type NumberWidth = 'int' | 'long' | 'float' | 'double';
export type TimestampFormat = 'epoch-seconds' | 'date-time' | 'http-date';

export type Shape =
  | { kind: 'string'; enumName?: string; values?: readonly string[] }
  | { kind: 'number'; width?: NumberWidth; enumName?: string; values?: readonly number[] }
  | { kind: 'boolean' }
  | { kind: 'timestamp'; format: TimestampFormat }
  | { kind: 'blob' }
  | { kind: 'document' }
  | { kind: 'list'; member: Shape }
  | { kind: 'map'; value: Shape }
  | StructureShape;

export interface StructureShape {
  kind: 'structure';
  name: string;
  union: boolean;
  /** Keyed by the member's JSON name. */
  members: Map<string, Member>;
}

export interface Member {
  name: string;
  required: boolean;
  binding: 'body' | 'header' | 'statusCode' | 'payload';
  header?: string;
  shape: Shape;
}

export interface OperationModel {
  name: string;
  method: string;
  path: string;
  successCode: number;
  output: StructureShape;
  /** Error shape names the operation declares. */
  errors: readonly string[];
}

/** Errors any operation may answer with although no operation declares them (auth, routing, size limits). */
const SERVICE_WIDE_ERRORS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'IncompleteSignatureException',
  'ValidationException',
  'AccessDeniedException',
  'RequestEntityTooLargeException',
  'UnknownOperationException',
]);

const exportsByName = sdk as unknown as Record<string, unknown>;
const packageRoot = join(dirname(createRequire(import.meta.url).resolve('@aws-sdk/client-lambda')), '..');

interface DeclarationFacts {
  /** `Shape.Member` → enum name. */
  enumOf: Map<string, string>;
  /** `Shape.Member` → number width (for lists and maps of numbers: the member that holds them). */
  widthOf: Map<string, NumberWidth>;
  errorsOf: Map<string, string[]>;
}

let facts: DeclarationFacts | undefined;
const operations = new Map<string, OperationModel>();
const structures = new Map<string, StructureShape>();

function fail(message: string): never {
  throw new AssertionError({ message: `service model: ${message}` });
}

function enumValues(name: string): readonly (string | number)[] | undefined {
  const value = exportsByName[name];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const values = Object.values(value);
  return values.length > 0 && values.every((v) => typeof v === 'string' || typeof v === 'number') ? values : undefined;
}

function readDeclarations(): DeclarationFacts {
  if (facts) return facts;
  const enumOf = new Map<string, string>();
  for (const file of ['models_0.d.ts', 'errors.d.ts']) {
    const text = readFileSync(join(packageRoot, 'dist-types', 'models', file), 'utf8');
    let namespace: string | undefined;
    let owner: string | undefined;
    for (const line of text.split('\n')) {
      const top = /^export (?:interface|declare class) (\w+)\b/.exec(line);
      const ns = /^export declare namespace (\w+) \{/.exec(line);
      const unionMember = /^ {4}interface \w+ \{/.exec(line);
      if (top) owner = top[1];
      else if (ns) namespace = ns[1];
      else if (unionMember && namespace) owner = namespace;
      else if (/^}/.test(line)) owner = namespace = undefined;
      else if (/^ {4}}/.test(line) && namespace) owner = undefined;
      const member = owner && /^\s+(\w+)\??: (.+);$/.exec(line);
      if (!member || !owner) continue;
      let type = (member[2] ?? '').replace(/ \| undefined$/, '');
      for (let inner = /^Record<string, (.+)>$|^(.+)\[\]$/.exec(type); inner; inner = /^Record<string, (.+)>$|^(.+)\[\]$/.exec(type)) {
        type = inner[1] ?? inner[2] ?? '';
      }
      if (enumValues(type)) enumOf.set(`${owner}.${member[1]}`, type);
    }
  }
  const widthOf = new Map<string, NumberWidth>();
  const errorsOf = new Map<string, string[]>();
  const commandsDir = join(packageRoot, 'dist-types', 'commands');
  for (const file of readdirSync(commandsDir)) {
    const op = /^(\w+)Command\.d\.ts$/.exec(file)?.[1];
    if (!op) continue;
    const text = readFileSync(join(commandsDir, file), 'utf8');
    const errors = [...text.matchAll(/@throws \{@link (\w+)\}/g)].map((m) => m[1] ?? '');
    errorsOf.set(op, errors.filter((e) => e !== 'LambdaServiceException'));
    readExampleWidths(text.slice(text.indexOf('await client.send(command);')), widthOf);
  }
  facts = { enumOf, widthOf, errorsOf };
  return facts;
}

/**
 * The generated doc example prints the output with `{ // ShapeName` openers and `Number("int")` leaves; walking its
 * brackets recovers which structure member each number belongs to. Openers without a name (a shape printed before)
 * are skipped; another command's example usually names them.
 */
function readExampleWidths(example: string, widthOf: Map<string, NumberWidth>): void {
  const frames: { shape?: string; owner?: string; key?: string }[] = [];
  for (const raw of example.split('\n')) {
    const line = /^ \* \/\/ (.*)$/.exec(raw)?.[1];
    if (line === undefined) {
      if (frames.length > 0) break;
      continue;
    }
    const open = /^\s*(?:(\w+|"<keys>"): )?[{[](?: \/\/ (\w+).*)?$/.exec(line);
    if (open) {
      frames.push({ shape: open[2], owner: frames.at(-1)?.shape, key: open[1] });
      continue;
    }
    if (/^\s*[}\]][,;]?$/.test(line)) {
      frames.pop();
      if (frames.length === 0) break;
      continue;
    }
    const number = /^\s*(?:(\w+|"<keys>"): )?Number\("(\w+)"\)/.exec(line);
    const top = frames.at(-1);
    if (!number || !top) continue;
    const width = number[2] as NumberWidth;
    if (number[1] && !number[1].startsWith('"')) {
      if (top.shape) widthOf.set(`${top.shape}.${number[1]}`, width);
    } else if (top.owner && top.key && !top.key.startsWith('"')) {
      widthOf.set(`${top.owner}.${top.key}`, width);
    }
  }
}

interface LeafHint {
  enumName?: string;
  width?: NumberWidth;
}

function toShape(ns: NormalizedSchema, hint: LeafHint): Shape {
  if (ns.isStructSchema()) return toStructure(ns);
  if (ns.isListSchema()) return { kind: 'list', member: toShape(ns.getValueSchema(), hint) };
  if (ns.isMapSchema()) return { kind: 'map', value: toShape(ns.getValueSchema(), hint) };
  if (ns.isBlobSchema()) return { kind: 'blob' };
  if (ns.isDocumentSchema()) return { kind: 'document' };
  if (ns.isBooleanSchema()) return { kind: 'boolean' };
  if (ns.isTimestampSchema()) {
    const declared = ns.getMergedTraits().timestampFormat;
    const sentinel = ns.getSchema();
    // 4 is "no format given": restJson1 then uses epoch seconds.
    const format: TimestampFormat =
      declared === 'date-time' || sentinel === 5 ? 'date-time' : declared === 'http-date' || sentinel === 6 ? 'http-date' : 'epoch-seconds';
    return { kind: 'timestamp', format };
  }
  const values = hint.enumName ? enumValues(hint.enumName) : undefined;
  if (ns.isNumericSchema() || ns.isBigIntegerSchema() || ns.isBigDecimalSchema()) {
    const numbers = values?.filter((v): v is number => typeof v === 'number');
    return { kind: 'number', width: hint.width, enumName: numbers ? hint.enumName : undefined, values: numbers };
  }
  if (ns.isStringSchema()) {
    const strings = values?.filter((v): v is string => typeof v === 'string');
    return { kind: 'string', enumName: strings ? hint.enumName : undefined, values: strings };
  }
  return fail(`unsupported schema ${String(ns.getName(true))}`);
}

function toStructure(ns: NormalizedSchema): StructureShape {
  const name = ns.getName() ?? '';
  const known = structures.get(name);
  if (known) return known;
  const shape: StructureShape = { kind: 'structure', name, union: ns.isUnionSchema(), members: new Map() };
  structures.set(name, shape); // before the members, so recursive shapes end in the same object
  if (ns.isUnitSchema()) return shape;
  const requiredCount = Number((ns.getSchema() as unknown as readonly unknown[])[6] ?? 0);
  const { enumOf, widthOf } = readDeclarations();
  let index = 0;
  for (const [memberName, memberSchema] of ns.structIterator()) {
    const traits = memberSchema.getMergedTraits();
    const key = `${name}.${memberName}`;
    const header = typeof traits.httpHeader === 'string' ? traits.httpHeader : undefined;
    const binding = header ? 'header' : traits.httpResponseCode ? 'statusCode' : traits.httpPayload ? 'payload' : 'body';
    const jsonName = typeof traits.jsonName === 'string' ? traits.jsonName : memberName;
    shape.members.set(jsonName, {
      name: memberName,
      required: index++ < requiredCount,
      binding,
      header,
      shape: toShape(memberSchema, { enumName: enumOf.get(key), width: widthOf.get(key) }),
    });
  }
  return shape;
}

export function describeOperation(operation: string): OperationModel {
  const cached = operations.get(operation);
  if (cached) return cached;
  const schema = exportsByName[`${operation}$`];
  if (!Array.isArray(schema) || schema[0] !== 9) fail(`unknown operation ${operation}`);
  const traits = (schema[3] ?? {}) as { http?: [string, string, number] };
  const [method = '', path = '', successCode = 200] = traits.http ?? [];
  const outputRef = typeof schema[5] === 'function' ? (schema[5] as () => unknown)() : schema[5];
  const output =
    outputRef === 'unit'
      ? { kind: 'structure' as const, name: 'Unit', union: false, members: new Map<string, Member>() }
      : toStructure(NormalizedSchema.of(outputRef as Parameters<typeof NormalizedSchema.of>[0]));
  const errors = readDeclarations().errorsOf.get(operation) ?? fail(`no command declaration for ${operation}`);
  const model: OperationModel = { name: operation, method, path, successCode, output, errors };
  operations.set(operation, model);
  return model;
}

export function operationNames(): string[] {
  return Object.entries(exportsByName)
    .filter(([name, value]) => name.endsWith('$') && Array.isArray(value) && value[0] === 9)
    .map(([name]) => name.slice(0, -1))
    .sort();
}

function typeOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const ISO_DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkValue(shape: Shape, value: unknown, path: string, out: ShapeProblem[]): void {
  const expect = (want: string): void => void out.push({ path, problem: `expected ${want}, got ${typeOf(value)}` });
  switch (shape.kind) {
    case 'string':
      if (typeof value !== 'string') return expect('string');
      if (shape.values && !shape.values.includes(value)) {
        out.push({ path, problem: `${JSON.stringify(value)} is not a ${shape.enumName} value (${shape.values.join(', ')})` });
      }
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return expect('number');
      if ((shape.width === 'int' || shape.width === 'long') && !Number.isInteger(value)) {
        out.push({ path, problem: `expected an integer (${shape.width}), got ${value}` });
      } else if (shape.width === 'int' && Math.abs(value) > 2 ** 31) {
        out.push({ path, problem: `${value} is outside the 32-bit int range` });
      }
      if (shape.values && !shape.values.includes(value)) {
        out.push({ path, problem: `${value} is not a ${shape.enumName} value (${shape.values.join(', ')})` });
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') expect('boolean');
      return;
    case 'timestamp':
      if (shape.format === 'epoch-seconds') {
        if (typeof value !== 'number' || !Number.isFinite(value)) expect('timestamp as epoch seconds (number)');
      } else if (typeof value !== 'string') {
        expect(`timestamp as ${shape.format} string`);
      } else if (shape.format === 'date-time' ? !ISO_DATE_TIME.test(value) : Number.isNaN(Date.parse(value))) {
        out.push({ path, problem: `${JSON.stringify(value)} is not a ${shape.format} timestamp` });
      }
      return;
    case 'blob':
      if (typeof value !== 'string') expect('base64 string');
      else if (!BASE64.test(value)) out.push({ path, problem: 'blob is not valid base64' });
      return;
    case 'document':
      return;
    case 'list':
      if (!Array.isArray(value)) return expect('array');
      value.forEach((item, i) => {
        if (item === null) out.push({ path: `${path}[${i}]`, problem: 'null list element' });
        else checkValue(shape.member, item, `${path}[${i}]`, out);
      });
      return;
    case 'map':
      if (!isObject(value)) return expect('object (map)');
      for (const [key, item] of Object.entries(value)) {
        const itemPath = `${path}[${JSON.stringify(key)}]`;
        if (item === null) out.push({ path: itemPath, problem: 'null map value' });
        else checkValue(shape.value, item, itemPath, out);
      }
      return;
    case 'structure':
      return checkStructure(shape, value, path, out);
  }
}

function checkStructure(shape: StructureShape, value: unknown, path: string, out: ShapeProblem[]): void {
  if (!isObject(value)) {
    out.push({ path, problem: `expected object (${shape.name}), got ${typeOf(value)}` });
    return;
  }
  let present = 0;
  for (const [key, item] of Object.entries(value)) {
    const member = shape.members.get(key);
    const memberPath = `${path}.${key}`;
    if (!member || member.binding !== 'body') {
      out.push({ path: memberPath, problem: `unknown member of ${shape.name}` });
    } else if (item === null) {
      if (member.required) out.push({ path: memberPath, problem: `required member of ${shape.name} is null` });
    } else {
      present++;
      checkValue(member.shape, item, memberPath, out);
    }
  }
  for (const [key, member] of shape.members) {
    if (member.required && member.binding === 'body' && !(key in value)) {
      out.push({ path: `${path}.${key}`, problem: `missing required member of ${shape.name}` });
    }
  }
  if (shape.union && present !== 1) {
    out.push({ path, problem: `union ${shape.name} must set exactly one member, got ${present}` });
  }
}

export function checkOutputBody(operation: string, body: unknown): ShapeProblem[] {
  const { output } = describeOperation(operation);
  const out: ShapeProblem[] = [];
  const payload = [...output.members.values()].find((m) => m.binding === 'payload');
  // A payload member replaces the body: only a structure payload has a shape to check (Invoke's is the function's bytes).
  if (payload) {
    if (payload.shape.kind === 'structure' && !payload.shape.union) checkStructure(payload.shape, body, '$', out);
    return out;
  }
  checkStructure(output, body, '$', out);
  return out;
}

function formatProblems(what: string, problems: readonly ShapeProblem[]): string {
  return `${what}: ${problems.length} problem(s)\n${problems.map((p) => `  ${p.path}: ${p.problem}`).join('\n')}`;
}

export function assertOutputBody(operation: string, body: unknown): void {
  const problems = checkOutputBody(operation, body);
  if (problems.length > 0) {
    throw new AssertionError({ message: formatProblems(`${operation} output body`, problems), actual: body });
  }
}

/** The SDKs cut the header at `,` and `:` and keep what follows `#`, so AWS's `Name:http://internal…` form is legal. */
function errorName(errorType: string): string {
  const head = errorType.split(',')[0]?.split(':')[0]?.trim() ?? '';
  return head.slice(head.lastIndexOf('#') + 1);
}

export function checkErrorResponse(operation: string, errorType: string, body: unknown): ShapeProblem[] {
  const { errors } = describeOperation(operation);
  const name = errorName(errorType);
  const out: ShapeProblem[] = [];
  if (!errors.includes(name) && !SERVICE_WIDE_ERRORS.has(name)) {
    out.push({
      path: 'x-amzn-errortype',
      problem: `${JSON.stringify(errorType)} is neither declared by ${operation} (${errors.join(', ')}) nor a service-wide error`,
    });
  }
  if (!isObject(body)) {
    out.push({ path: '$', problem: `expected a JSON object, got ${typeOf(body)}` });
    return out;
  }
  if (typeof body.message !== 'string' && typeof body.Message !== 'string') {
    out.push({ path: '$', problem: 'no string `message` or `Message` member' });
  }
  // Modeled members must have their modeled types; extra members are tolerated because both SDKs surface them.
  const schema = exportsByName[`${name}$`];
  if (errors.includes(name) && Array.isArray(schema) && schema[0] === -3) {
    const shape = toStructure(NormalizedSchema.of(schema as Parameters<typeof NormalizedSchema.of>[0]));
    for (const [key, member] of shape.members) {
      const value = body[key];
      if (value !== undefined && value !== null) checkValue(member.shape, value, `$.${key}`, out);
    }
  }
  return out;
}

export function assertErrorResponse(operation: string, errorType: string, body: unknown): void {
  const problems = checkErrorResponse(operation, errorType, body);
  if (problems.length > 0) {
    throw new AssertionError({ message: formatProblems(`${operation} error ${errorType}`, problems), actual: body });
  }
}
