/** Anthropic `stop_reason` -> OpenAI `finish_reason`. */
export type OpenAIFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/**
 * - end_turn, stop_sequence, pause_turn (a server-tool loop paused; the turn is over for the client) -> stop
 * - max_tokens, model_context_window_exceeded -> length
 * - tool_use -> tool_calls
 * - refusal (streaming classifiers stopped the answer) -> content_filter
 * Unknown future values map to `stop` rather than failing a finished answer.
 */
export function toFinishReason(stopReason: string | null): OpenAIFinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}
