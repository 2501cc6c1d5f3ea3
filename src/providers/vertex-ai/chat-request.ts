/**
 * OpenAI chat request -> Gemini `GenerateContentRequest`. Pure.
 *
 * Gemini quirks handled here:
 * - no system role in `contents`: every system/developer message (wherever it sits) goes to
 *   `systemInstruction`;
 * - roles are `user` and `model`; tool results are `user` turns holding `functionResponse` parts,
 *   named (Gemini matches results to calls by name), so the name is looked up from the call's id;
 * - consecutive turns of one role are merged (Gemini wants the function responses of a parallel
 *   call in one turn, and rejects empty turns);
 * - empty text parts are rejected upstream ("empty text parameter") and are skipped;
 * - `functionResponse.response` must be a JSON object.
 */
import { invalidRequest } from '../../errors.js';
import type { ChatCompletionCreateParams } from '../types.js';
import { toFunctionParameters, toGeminiSchema } from './schema.js';
import { thoughtSignatureOf } from './tool-call-id.js';
import type {
  GeminiContent, GeminiFunctionDeclaration, GeminiGenerationConfig, GeminiPart, GeminiToolConfig,
  GenerateContentRequest,
} from './wire.js';
import { isRecord } from './wire.js';

type Message = ChatCompletionCreateParams['messages'][number];
type UserContent = Exclude<Extract<Message, { role: 'user' }>['content'], string>[number];

const MIME_BY_EXT: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif',
  heic: 'image/heic', heif: 'image/heif', pdf: 'application/pdf', mp3: 'audio/mp3', wav: 'audio/wav',
  mp4: 'video/mp4', txt: 'text/plain',
};

/** Guess a file URL's MIME type from its extension (Gemini's `fileData` requires one). */
export function guessMimeType(url: string, fallback = 'image/jpeg'): string {
  let path = url;
  try { path = new URL(url).pathname; } catch { /* not absolute: use as is */ }
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  return (ext && MIME_BY_EXT[ext]) || fallback;
}

/** `data:<mime>[;base64],<data>` -> inlineData (base64), or undefined if not a data URL. */
function fromDataUrl(url: string): GeminiPart | undefined {
  const m = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (!m) return undefined;
  const isBase64 = /;base64/i.test(m[2] ?? '');
  const data = isBase64 ? m[3]! : Buffer.from(decodeURIComponent(m[3]!)).toString('base64');
  return { inlineData: { mimeType: m[1] || 'application/octet-stream', data } };
}

function userPart(part: UserContent, param: string): GeminiPart | undefined {
  switch (part.type) {
    case 'text':
      return part.text ? { text: part.text } : undefined;
    case 'image_url': {
      const url = part.image_url.url;
      const inline = fromDataUrl(url);
      if (inline) return inline;
      if (!/^(https?|gs):\/\//i.test(url)) throw invalidRequest('image_url must be an http(s) URL or a data: URL', param);
      return { fileData: { mimeType: guessMimeType(url), fileUri: url } };
    }
    case 'input_audio':
      return { inlineData: { mimeType: `audio/${part.input_audio.format}`, data: part.input_audio.data } };
    case 'file': {
      const data = part.file.file_data;
      if (!data) throw invalidRequest('vertex-ai: file parts need file_data (file_id is OpenAI-only)', param);
      return fromDataUrl(data)
        ?? { inlineData: { mimeType: guessMimeType(part.file.filename ?? '', 'application/pdf'), data } };
    }
    default:
      throw invalidRequest(`vertex-ai: unsupported content part type ${JSON.stringify((part as { type?: unknown }).type)}`, param);
  }
}

/** Plain text of a string or text-part array (system, assistant, tool messages). */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p: unknown) => (isRecord(p) && typeof p.text === 'string' ? p.text : isRecord(p) && typeof p.refusal === 'string' ? p.refusal : ''))
    .join('');
}

/** Tool output as Gemini's `response` object: parsed JSON when it is JSON, else `{result: text}`. */
function toolResponse(text: string): Record<string, unknown> {
  try {
    return { content: JSON.parse(text) as unknown };
  } catch {
    return { result: text };
  }
}

function parseArguments(args: string, param: string): Record<string, unknown> {
  if (!args.trim()) return {};
  let parsed: unknown;
  try { parsed = JSON.parse(args); } catch { throw invalidRequest('tool call arguments must be a JSON object', param); }
  if (!isRecord(parsed)) throw invalidRequest('tool call arguments must be a JSON object', param);
  return parsed;
}

/** Translate the conversation: `systemInstruction` plus merged `contents`. */
export function toContents(messages: readonly Message[]): Pick<GenerateContentRequest, 'contents' | 'systemInstruction'> {
  const system: Array<{ text: string }> = [];
  const contents: GeminiContent[] = [];
  const toolNames = new Map<string, string>();
  const push = (role: GeminiContent['role'], parts: GeminiPart[]): void => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  messages.forEach((msg, i) => {
    const param = `messages[${i}]`;
    switch (msg.role) {
      case 'system':
      case 'developer': {
        const text = textOf(msg.content);
        if (text) system.push({ text });
        break;
      }
      case 'user': {
        const parts = typeof msg.content === 'string'
          ? (msg.content ? [{ text: msg.content }] : [])
          : msg.content.map((p, j) => userPart(p, `${param}.content[${j}]`)).filter((p): p is GeminiPart => p !== undefined);
        push('user', parts);
        break;
      }
      case 'assistant': {
        const parts: GeminiPart[] = [];
        const text = textOf(msg.content);
        if (text) parts.push({ text });
        (msg.tool_calls ?? []).forEach((call, j) => {
          if (call.type !== 'function') throw invalidRequest('vertex-ai supports only function tool calls', `${param}.tool_calls[${j}]`);
          toolNames.set(call.id, call.function.name);
          const part: GeminiPart = {
            functionCall: { name: call.function.name, args: parseArguments(call.function.arguments, `${param}.tool_calls[${j}].function.arguments`) },
          };
          const signature = thoughtSignatureOf(call.id);
          if (signature) part.thoughtSignature = signature;
          parts.push(part);
        });
        push('model', parts);
        break;
      }
      case 'tool': {
        const name = toolNames.get(msg.tool_call_id);
        if (!name) throw invalidRequest(`no earlier assistant tool call has the id ${JSON.stringify(msg.tool_call_id)}`, `${param}.tool_call_id`);
        push('user', [{ functionResponse: { name, response: toolResponse(textOf(msg.content)) } }]);
        break;
      }
      case 'function':
        // Legacy `functions` API: the result carries the name itself.
        push('user', [{ functionResponse: { name: msg.name, response: toolResponse(msg.content ?? '') } }]);
        break;
      default:
        throw invalidRequest(`unsupported message role ${JSON.stringify((msg as { role?: unknown }).role)}`, `${param}.role`);
    }
  });

  return system.length ? { contents, systemInstruction: { parts: system } } : { contents };
}

/** Function declarations, and the tool config for `tool_choice`. */
function toTools(req: ChatCompletionCreateParams): Pick<GenerateContentRequest, 'tools' | 'toolConfig'> {
  if (!req.tools?.length) return {};
  let declarations: GeminiFunctionDeclaration[] = req.tools.map((tool, i) => {
    if (tool.type !== 'function') throw invalidRequest('vertex-ai supports only function tools', `tools[${i}].type`);
    const decl: GeminiFunctionDeclaration = { name: tool.function.name };
    if (tool.function.description) decl.description = tool.function.description;
    const parameters = toFunctionParameters(tool.function.parameters);
    if (parameters) decl.parameters = parameters;
    return decl;
  });

  const choice = req.tool_choice;
  let config: GeminiToolConfig['functionCallingConfig'] | undefined;
  if (choice === 'none') config = { mode: 'NONE' };
  else if (choice === 'auto') config = { mode: 'AUTO' };
  else if (choice === 'required') config = { mode: 'ANY' };
  else if (choice?.type === 'function') config = { mode: 'ANY', allowedFunctionNames: [choice.function.name] };
  else if (choice?.type === 'allowed_tools') {
    // Gemini allows `allowedFunctionNames` only with mode ANY; for "auto" over a subset, declare only the subset.
    const names = new Set(choice.allowed_tools.tools.map((t) => (isRecord(t.function) ? t.function.name : undefined)));
    declarations = declarations.filter((d) => names.has(d.name));
    config = { mode: choice.allowed_tools.mode === 'required' ? 'ANY' : 'AUTO' };
  } else if (choice) throw invalidRequest('vertex-ai supports only function tool choices', 'tool_choice');

  return {
    tools: [{ functionDeclarations: declarations }],
    ...(config ? { toolConfig: { functionCallingConfig: config } } : {}),
  };
}

function toGenerationConfig(req: ChatCompletionCreateParams): GeminiGenerationConfig | undefined {
  const g: GeminiGenerationConfig = {};
  if (typeof req.temperature === 'number') g.temperature = req.temperature;
  if (typeof req.top_p === 'number') g.topP = req.top_p;
  const max = req.max_completion_tokens ?? req.max_tokens;
  if (typeof max === 'number') g.maxOutputTokens = max;
  if (req.stop) g.stopSequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (typeof req.n === 'number') g.candidateCount = req.n;
  if (typeof req.seed === 'number') g.seed = req.seed;
  if (typeof req.presence_penalty === 'number') g.presencePenalty = req.presence_penalty;
  if (typeof req.frequency_penalty === 'number') g.frequencyPenalty = req.frequency_penalty;
  const format = req.response_format;
  if (format?.type === 'json_object') g.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    g.responseMimeType = 'application/json';
    if (format.json_schema.schema) g.responseSchema = toGeminiSchema(format.json_schema.schema);
  }
  return Object.keys(g).length ? g : undefined;
}

/** Build the Gemini request body for an OpenAI chat request. Throws 400 ApiErrors for what Gemini cannot express. */
export function toGeminiRequest(req: ChatCompletionCreateParams): GenerateContentRequest {
  if (req.functions?.length) throw invalidRequest('vertex-ai: use `tools` instead of the deprecated `functions`', 'functions');
  const out: GenerateContentRequest = { ...toContents(req.messages), ...toTools(req) };
  const generationConfig = toGenerationConfig(req);
  if (generationConfig) out.generationConfig = generationConfig;
  return out;
}
