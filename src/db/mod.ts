/**
 * Database connections. Every session runs in UTC so that timestamps read as
 * text are already in the `Z` form the archive needs.
 */
import postgres from "postgres";

/** A postgres.js client. */
export type Sql = postgres.Sql;
/** A postgres.js transaction client. */
export type TransactionSql = postgres.TransactionSql;
/** Either: reads work the same inside and outside a transaction. */
export type Queryable = Sql | TransactionSql;

/** Options for {@linkcode connect}. */
export interface ConnectOptions {
  /** Pool size (default 4: one pass, one claim, the server and a spare). */
  max?: number;
}

/** Opens a pool to `url`. Nothing connects until the first query. */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 4,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    // Timestamps stay PostgreSQL text both ways: a JS Date would drop the
    // microseconds that tell one attempt from the next.
    types: {
      timestamptz: {
        to: 1184,
        from: [1114, 1184],
        serialize: (x: unknown) => (x instanceof Date ? x.toISOString() : String(x)),
        parse: (x: string) => x,
      },
    },
    connection: { TimeZone: "UTC", application_name: "assisted-telemetry-collector" },
  });
}

/** True when a trivial query succeeds within the pool's connect timeout. */
export async function ping(sql: Sql): Promise<boolean> {
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  }
}
