/**
 * Gemini's REST wire format (the Gemini API `v1beta` and Vertex AI `v1` share it), limited to what
 * Backbone sends and reads, plus the narrowing of upstream JSON from `unknown`.
 *
 * Reference: https://ai.google.dev/api/generate-content and
 * https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/projects.locations.publishers.models/generateContent
 */

// ---------- request ----------

/** Gemini's `Type` enum. The canonical upper-case names are always accepted. */
export type GeminiType = 'STRING' | 'NUMBER' | 'INTEGER' | 'BOOLEAN' | 'ARRAY' | 'OBJECT' | 'NULL';

/** Gemini's `Schema`: a select subset of an OpenAPI 3.0 schema object. */
export interface GeminiSchema {
  type?: GeminiType;
  format?: string;
  title?: string;
  description?: string;
  nullable?: boolean;
  enum?: string[];
  items?: GeminiSchema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, GeminiSchema>;
  required?: string[];
  propertyOrdering?: string[];
  anyOf?: GeminiSchema[];
}

export interface GeminiFunctionCall {
  name: string;
  args?: Record<string, unknown>;
}

export interface GeminiFunctionResponse {
  name: string;
  response: Record<string, unknown>;
}

export interface GeminiPart {
  text?: string;
  /** True on "thinking" summaries (only with `includeThoughts`): never user-visible content. */
  thought?: boolean;
  /** Opaque signature of the model's reasoning; Gemini 3 requires it back on function calls. */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType: string; fileUri: string };
  functionCall?: GeminiFunctionCall;
  functionResponse?: GeminiFunctionResponse;
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  parameters?: GeminiSchema;
}

export interface GeminiTool {
  functionDeclarations: GeminiFunctionDeclaration[];
}

export interface GeminiToolConfig {
  functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] };
}

export interface GeminiGenerationConfig {
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  candidateCount?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseMimeType?: string;
  responseSchema?: GeminiSchema;
}

export interface GenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: Array<{ text: string }> };
  tools?: GeminiTool[];
  toolConfig?: GeminiToolConfig;
  generationConfig?: GeminiGenerationConfig;
}

// ---------- response ----------

export interface GeminiUsageMetadata {
  promptTokenCount: number;
  candidatesTokenCount: number;
  cachedContentTokenCount: number;
  thoughtsTokenCount: number;
  toolUsePromptTokenCount: number;
}

export interface GeminiCandidate {
  index: number;
  parts: GeminiPart[];
  finishReason?: string;
}

/** A narrowed `GenerateContentResponse` (one non-streaming body, or one streamed event). */
export interface GenerateContentResponse {
  candidates: GeminiCandidate[];
  blockReason?: string;
  usage?: GeminiUsageMetadata;
}

/** Google's error object, `{"error":{"code","message","status","details"}}`. */
export interface GoogleError {
  code?: number;
  message?: string;
  status?: string;
  details: Array<Record<string, unknown>>;
}

// ---------- narrowing ----------

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function narrowPart(v: unknown): GeminiPart | undefined {
  if (!isRecord(v)) return undefined;
  const part: GeminiPart = {};
  if (typeof v.text === 'string') part.text = v.text;
  if (v.thought === true) part.thought = true;
  const sig = str(v.thoughtSignature);
  if (sig) part.thoughtSignature = sig;
  const fc = v.functionCall;
  if (isRecord(fc) && typeof fc.name === 'string') {
    part.functionCall = { name: fc.name, args: isRecord(fc.args) ? fc.args : {} };
  }
  return part;
}

function narrowCandidate(v: unknown, i: number): GeminiCandidate | undefined {
  if (!isRecord(v)) return undefined;
  const content = isRecord(v.content) ? v.content : {};
  const rawParts = Array.isArray(content.parts) ? content.parts : [];
  const parts = rawParts.map(narrowPart).filter((p): p is GeminiPart => p !== undefined);
  const cand: GeminiCandidate = { index: typeof v.index === 'number' ? v.index : i, parts };
  const fr = str(v.finishReason);
  if (fr) cand.finishReason = fr;
  return cand;
}

function narrowUsage(v: unknown): GeminiUsageMetadata | undefined {
  if (!isRecord(v)) return undefined;
  return {
    promptTokenCount: num(v.promptTokenCount),
    candidatesTokenCount: num(v.candidatesTokenCount),
    cachedContentTokenCount: num(v.cachedContentTokenCount),
    thoughtsTokenCount: num(v.thoughtsTokenCount),
    toolUsePromptTokenCount: num(v.toolUsePromptTokenCount),
  };
}

/** Narrow a `GenerateContentResponse` body; unknown or malformed members are dropped. */
export function narrowGenerateContentResponse(json: unknown): GenerateContentResponse {
  const o = isRecord(json) ? json : {};
  const rawCands = Array.isArray(o.candidates) ? o.candidates : [];
  const candidates = rawCands
    .map((c, i) => narrowCandidate(c, i))
    .filter((c): c is GeminiCandidate => c !== undefined);
  const out: GenerateContentResponse = { candidates };
  const blockReason = isRecord(o.promptFeedback) ? str(o.promptFeedback.blockReason) : undefined;
  if (blockReason) out.blockReason = blockReason;
  const usage = narrowUsage(o.usageMetadata);
  if (usage) out.usage = usage;
  return out;
}

/**
 * Find Google's error object in a parsed body. Google answers `{"error":{...}}`, and in streams
 * (and some proxies) an array of such objects: `[{"error":{...}}]`.
 */
export function findGoogleError(json: unknown): GoogleError | undefined {
  const holder = Array.isArray(json) ? json[0] : json;
  if (!isRecord(holder) || !isRecord(holder.error)) return undefined;
  const e = holder.error;
  const details = Array.isArray(e.details) ? e.details.filter(isRecord) : [];
  const out: GoogleError = { details };
  if (typeof e.code === 'number') out.code = e.code;
  const message = str(e.message);
  if (message !== undefined) out.message = message;
  const status = str(e.status);
  if (status !== undefined) out.status = status;
  return out;
}
