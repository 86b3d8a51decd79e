/** Where serving records who loaded or unloaded which model (contract 8; the security layer's AuditLog fits). */
export interface AuditSink {
  append(e: { actor: string; action: string; target: string; details?: unknown }): Promise<void> | void;
}

