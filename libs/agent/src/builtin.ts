import { DEFAULT_TOOL_LIMITS, type ToolDefaults } from './limits.js';
import type { Tool, ToolInvocation } from './tool-types.js';

/** The collection-name rule of the API (DESIGN.md §4). */
const COLLECTION = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' } as const;

export interface SearchCollectionArgs {
  collection: string;
  query: string;
  topK: number;
}

export interface FetchDocumentArgs {
  collection: string;
  id: string;
}

/**
 * `search_collection`: retrieval over one collection, for the model to look things up. The
 * function is Keel's retrieval service, wired by the agent module; this is only the definition.
 */
export function searchCollectionTool(
  search: (args: SearchCollectionArgs, invocation: ToolInvocation) => Promise<unknown>,
  limits: ToolDefaults = DEFAULT_TOOL_LIMITS,
): Tool {
  return {
    name: 'search_collection',
    description:
      'Search a document collection and return the best matching passages with their document ids.',
    source: 'builtin',
    parameters: {
      type: 'object',
      properties: {
        collection: { ...COLLECTION, description: 'The collection to search.' },
        query: { type: 'string', minLength: 1, maxLength: 2000, description: 'What to look for.' },
        topK: {
          type: 'integer',
          minimum: 1,
          maximum: 20,
          default: 5,
          description: 'How many passages to return.',
        },
      },
      required: ['collection', 'query'],
      additionalProperties: false,
    },
    idempotent: true,
    ...limits,
    invoke: (args, invocation) => {
      const a = args as Partial<SearchCollectionArgs>;
      return search(
        { collection: a.collection ?? '', query: a.query ?? '', topK: a.topK ?? 5 },
        invocation,
      );
    },
  };
}

/** `fetch_document`: one document by id, to read past the passage a search returned. */
export function fetchDocumentTool(
  fetch: (args: FetchDocumentArgs, invocation: ToolInvocation) => Promise<unknown>,
  limits: ToolDefaults = DEFAULT_TOOL_LIMITS,
): Tool {
  return {
    name: 'fetch_document',
    description: 'Fetch one document of a collection by its id.',
    source: 'builtin',
    parameters: {
      type: 'object',
      properties: {
        collection: { ...COLLECTION, description: 'The collection of the document.' },
        id: { type: 'string', minLength: 1, maxLength: 512, description: 'The document id.' },
      },
      required: ['collection', 'id'],
      additionalProperties: false,
    },
    idempotent: true,
    ...limits,
    invoke: (args, invocation) => fetch(args as FetchDocumentArgs, invocation),
  };
}
