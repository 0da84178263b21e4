import { Logger } from '@nestjs/common';
import { KeelError, type ErrorCode } from '@keel/contracts';
import type { KeelConfig, RequestContext } from '@keel/platform';
import type { DocumentsService, RetrievalService } from '@keel/retrieval';
import { fetchDocumentTool, searchCollectionTool } from '../builtin.js';
import { EgressPolicy } from '../egress.js';
import { GuardedHttp } from '../http-request.js';
import { createHttpTool, shownHttp, type HttpTool, type ShownHttp } from '../http-tool.js';
import { ToolRegistry, describeTool } from '../registry.js';
import type { ToolDeclarationStore } from '../runs/tool-declarations.js';
import { envSecrets } from '../secrets.js';
import { loadToolsFile, registerToolsFile, type ConfiguredTools } from '../tools-file.js';
import type { ToolDescriptor, ToolInvocation } from '../tool-types.js';

/** Characters of one passage a search shows the model; fetch_document reads the rest. */
const PASSAGE_CHARS = 1_200;

/**
 * The process's tools: the built-ins over Keel's own retrieval, the tools file (HTTP and MCP),
 * and HTTP tools registered through the API (kept in the declaration store, so they survive a
 * restart and every replica serves the same ones).
 */
export class ToolsService {
  private readonly logger = new Logger('Tools');
  readonly registry = new ToolRegistry();
  private readonly egress: EgressPolicy;
  private readonly http: GuardedHttp;
  private configured: ConfiguredTools | undefined;
  /** Names registered through the API (the declaration store's), as opposed to config's. */
  private readonly registered = new Set<string>();

  constructor(
    private readonly config: KeelConfig,
    private readonly declarations: ToolDeclarationStore,
    retrieval: RetrievalService,
    documents: DocumentsService,
  ) {
    this.egress = new EgressPolicy({
      allowedHosts: config.tools.allowedHosts,
      allowPrivateNetworks: config.tools.allowPrivateNetworks,
    });
    this.http = new GuardedHttp(this.egress);
    const limits = config.tools.defaults;
    this.registry.registerBuiltin(
      searchCollectionTool(async (args, invocation) => {
        const outcome = await retrieval.retrieve(
          { collection: args.collection, query: args.query, topK: args.topK, mode: 'bm25' },
          context(invocation),
        );
        return {
          collection: args.collection,
          hits: outcome.response.hits.map((h) => ({
            documentId: h.documentId,
            ...(h.title !== undefined ? { title: h.title } : {}),
            score: Math.round(h.score * 1000) / 1000,
            text: h.text.length > PASSAGE_CHARS ? `${h.text.slice(0, PASSAGE_CHARS)}…` : h.text,
          })),
        };
      }, limits),
    );
    this.registry.registerBuiltin(
      fetchDocumentTool(async (args, invocation) => {
        const doc = await documents.get(args.collection, args.id, context(invocation));
        return doc;
      }, limits),
    );
  }

  private get httpContext() {
    return {
      egress: this.egress,
      http: this.http,
      secrets: envSecrets(),
      defaults: this.config.tools.defaults,
    };
  }

  /** Loads the tools file and the registered tools; a bad tools file stops the boot. */
  async start(): Promise<void> {
    if (this.config.tools.file) {
      const file = await loadToolsFile(this.config.tools.file);
      this.configured = await registerToolsFile(this.registry, file, this.httpContext, {
        path: this.config.tools.file,
      });
      for (const s of this.configured.skipped) {
        this.logger.warn(`tool ${s.tool} skipped: ${s.reason}`);
      }
      this.logger.log(`tools from ${this.config.tools.file}: ${this.configured.tools.join(', ')}`);
    }
    await this.sync();
  }

  async close(): Promise<void> {
    await this.configured?.close();
    this.http.close();
  }

  /**
   * Brings the registry in line with the declaration store: another replica may have registered
   * or removed a tool. One HGETALL or SELECT; cheap next to a model call.
   */
  async sync(): Promise<void> {
    const stored = await this.declarations.all();
    const names = new Set(stored.map((d) => d.name));
    for (const name of [...this.registered]) {
      if (!names.has(name)) {
        this.registry.remove(name);
        this.registered.delete(name);
      }
    }
    for (const { name, declaration } of stored) {
      if (this.registered.has(name)) continue;
      try {
        this.registry.register(createHttpTool(declaration, this.httpContext));
        this.registered.add(name);
      } catch (error) {
        // A stored tool that no longer passes today's rules (a narrowed allow-list): left out.
        this.logger.warn(`registered tool ${name} left out: ${(error as Error).message}`);
      }
    }
  }

  async list(): Promise<Array<ToolDescriptor & { http?: ShownHttp }>> {
    await this.sync();
    return this.registry.list().map((t) => this.describe(t.name) ?? t);
  }

  /**
   * What the API shows of a tool: its descriptor, and for HTTP tools the method, URL and header
   * names (plain values as `***`, secrets by name; see shownHttp).
   */
  describe(name: string): (ToolDescriptor & { http?: ShownHttp }) | undefined {
    const tool = this.registry.get(name);
    if (!tool) return undefined;
    const declaration = (tool as Partial<HttpTool>).declaration;
    return { ...describeTool(tool), ...(declaration ? { http: shownHttp(declaration) } : {}) };
  }

  /** POST /v1/tools: an HTTP tool, validated against the egress rules, then stored. */
  async register(declaration: unknown): Promise<ToolDescriptor & { http?: ShownHttp }> {
    await this.sync();
    const tool = createHttpTool(declaration, this.httpContext);
    if (this.registry.has(tool.name)) {
      throw new KeelError('TOOL_EXISTS', `a tool named '${tool.name}' exists`);
    }
    await this.declarations.save(tool.name, declaration);
    this.registry.register(tool);
    this.registered.add(tool.name);
    return this.describe(tool.name)!;
  }

  async remove(name: string): Promise<void> {
    await this.sync();
    if (!this.registered.has(name)) {
      const code: ErrorCode = this.registry.has(name) ? 'TOOL_INVALID' : 'TOOL_NOT_FOUND';
      throw new KeelError(
        code,
        code === 'TOOL_NOT_FOUND'
          ? `no tool named '${name}'`
          : `'${name}' is built in or comes from the tools file; it cannot be removed through the API`,
      );
    }
    await this.declarations.remove(name);
    this.registry.remove(name);
    this.registered.delete(name);
  }
}

function context(invocation: ToolInvocation): RequestContext {
  return {
    requestId: invocation.requestId ?? 'agent',
    deadline: invocation.deadline,
    signal: invocation.signal,
  };
}
