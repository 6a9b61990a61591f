/**
 * MCP resources and prompts as self-describing units, like tools
 * (src/tools/types.ts): a definition carries what a client sees and a read
 * function built once from the services. Every read goes through one guard
 * path (src/resources/register.ts): read scope → read → scrub → audit.
 */
import type { z } from 'zod';
import type { AuditLog } from '../audit.js';
import type { Caller } from '../tools/types.js';

export interface ResourceContext {
  signal: AbortSignal;
  caller: Caller;
  /** The server's audit trail (the audit resource reads it). */
  audit: AuditLog;
}

export interface ResourceDefinition<Services = unknown> {
  /** Short name, unique (also the audit record's `resource:<name>`). */
  name: string;
  title: string;
  description: string;
  mimeType: string;
  /** A fixed URI (`loop-ops://status`) or an RFC 6570 template (`loop-ops://logs/{container}`). */
  uri: string;
  /** For templates: the concrete resources to list (e.g. one per container). */
  list?: (services: Services) => Array<{ uri: string; name: string; title?: string }>;
  /** Returns the text content; `params` holds a template's variables. Throw to fail. */
  read: (services: Services) => (params: Record<string, string>, ctx: ResourceContext) => Promise<string>;
}

/** Prompt arguments are strings (MCP): a flat shape of bounded, described zod strings. */
export interface PromptDefinition<A extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  args: A;
  /** The user message the prompt expands to. */
  build: (args: { [K in keyof A]?: string }, app: string) => string;
}

export function defineResource<S>(def: ResourceDefinition<S>): ResourceDefinition<S> {
  return def;
}

export function definePrompt<A extends z.ZodRawShape>(def: PromptDefinition<A>): PromptDefinition<A> {
  return def;
}

/** What the engine's URIs look like, in one place (tools link to them). */
export const RESOURCE_URI = {
  status: 'loop-ops://status',
  history: 'loop-ops://history',
  audit: 'loop-ops://audit',
  logs: (container: string) => `loop-ops://logs/${encodeURIComponent(container)}`,
} as const;
