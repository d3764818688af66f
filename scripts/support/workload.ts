import { randomUUID } from 'node:crypto';
import type { EventStore, NewEvent } from '../../src/application/ports/event-store.ts';
import { currentVersion } from '../../src/application/upcasting.ts';
import {
  type AccountEvent,
  type AccountState,
  accountDecider,
  accountStreamName,
} from '../../src/domain/account/index.ts';
import { DomainError } from '../../src/domain/errors.ts';
import {
  type TransferDetails,
  type TransferEvent,
  type TransferState,
  transferDecider,
  transferStreamName,
} from '../../src/domain/transfer/index.ts';
import { isSagaEvent, onDeadline, react, type SagaCommand } from '../../src/sagas/transfer-saga.ts';

export type WorkloadOptions = {
  /** Stop starting new work once this many events are written (flows in flight still finish). */
  events: number;
  /** Accounts opened (and funded) before the traffic starts; default events / 100. */
  accounts?: number;
  /** Flows (transfers, cash operations) in flight at once. */
  concurrency?: number;
  seed?: number;
  /** Business time (metadata.occurredAt) of the first event; each command moves it on by `stepMs`. */
  start?: Date;
  stepMs?: number;
  /** Called about every 1,000 events with the number written so far. */
  onProgress?: (written: number) => void;
};

export type WorkloadSummary = {
  events: number;
  accounts: number;
  transfers: number;
  /** Cash in minus cash out: what the accounts hold together at the end. */
  cash: number;
  firstTime: string;
  lastTime: string;
};

type DomainEvent = AccountEvent | TransferEvent;
type Aggregate<State> = { state: State; revision: number; tail: Promise<void> };
type Command = SagaCommand;

const DEADLINE_MS = 30_000;
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'USD'];

/** A small deterministic PRNG (mulberry32): the same seed gives the same mix. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)) };
}

/**
 * A realistic bank workload written straight through the event store, without HTTP or a running
 * coordinator: accounts in two currencies (a tenth of them "merchants" that receive half of the
 * transfers), cash deposits and withdrawals, closings, and transfers driven step by step by the
 * saga's own pure `react` — completed, refused for insufficient funds, sent to a closed account,
 * voided by the deadline, and now and then a debit that lands just before the deadline fires (it goes forward).
 * Commands are decided by the real deciders on in-memory state; each stream's appends are chained
 * with exact expected revisions while many flows interleave in the log.
 */
export async function generateWorkload(
  store: EventStore,
  options: WorkloadOptions,
): Promise<WorkloadSummary> {
  const rng = random(options.seed ?? 1);
  const stepMs = options.stepMs ?? 5;
  const start = (options.start ?? new Date('2030-01-01T00:00:00.000Z')).getTime();
  const accounts = new Map<string, Aggregate<AccountState> & { currency: string }>();
  const byCurrency = new Map<string, string[]>();
  const merchants = new Map<string, string[]>();
  const transfers = new Map<string, Aggregate<TransferState>>();
  const stalled: { at: number; resume: () => void }[] = [];
  const detached: Promise<void>[] = [];
  let commands = 0;
  let written = 0;
  let reported = 0;
  let cash = 0;
  let transferCount = 0;

  const now = () => start + commands * stepMs;
  const wakeStalled = () => {
    for (let i = stalled.length - 1; i >= 0; i--) {
      if (stalled[i]!.at <= now()) stalled.splice(i, 1)[0]!.resume();
    }
  };

  const aggregateOf = (command: Command): Aggregate<AccountState> | Aggregate<TransferState> => {
    if (command.aggregate === 'transfer') {
      let transfer = transfers.get(command.id);
      if (!transfer) {
        transfer = { state: transferDecider.initialState(), revision: -1, tail: Promise.resolve() };
        transfers.set(command.id, transfer);
      }
      return transfer;
    }
    return accounts.get(command.id)!;
  };

  /** Decides on the in-memory state, then appends after the stream's earlier appends. */
  const execute = (command: Command, correlationId: string, causationId: string): Promise<DomainEvent[]> => {
    const aggregate = aggregateOf(command);
    let events: DomainEvent[];
    try {
      if (command.aggregate === 'transfer') {
        const transfer = aggregate as Aggregate<TransferState>;
        const decided = transferDecider.decide(command.command, transfer.state);
        transfer.state = decided.reduce(transferDecider.evolve, transfer.state);
        events = decided;
      } else {
        const account = aggregate as Aggregate<AccountState>;
        const decided = accountDecider.decide(command.command, account.state);
        account.state = decided.reduce(accountDecider.evolve, account.state);
        events = decided;
      }
    } catch (error) {
      if (error instanceof DomainError) return Promise.resolve([]);
      throw error;
    }
    commands++;
    wakeStalled();
    if (events.length === 0) return Promise.resolve([]);
    const occurredAt = new Date(now()).toISOString();
    const recorded: NewEvent[] = events.map((event) => ({
      id: randomUUID(),
      type: event.type,
      data: { ...event.data },
      metadata: {
        correlationId,
        causationId,
        occurredAt,
        schemaVersion: currentVersion(event.type),
        principal: 'generator',
      },
    }));
    const stream =
      command.aggregate === 'account' ? accountStreamName(command.id) : transferStreamName(command.id);
    const expected = aggregate.revision < 0 ? ('no_stream' as const) : aggregate.revision;
    aggregate.revision += events.length;
    for (const event of events) {
      if (event.type === 'CashDeposited') cash += event.data.amount;
      if (event.type === 'CashWithdrawn') cash -= event.data.amount;
    }
    const appended = aggregate.tail.then(() => store.append(stream, recorded, expected));
    aggregate.tail = appended.then(() => {});
    written += events.length;
    if (written - reported >= 1000) {
      reported = written;
      options.onProgress?.(written);
    }
    return appended.then(() => events);
  };

  const account = (accountId: string, command: Extract<Command, { aggregate: 'account' }>['command']) =>
    execute({ aggregate: 'account', id: accountId, command }, randomUUID(), 'generator');

  const openAccount = async (currency: string, merchant: boolean) => {
    const accountId = randomUUID();
    accounts.set(accountId, {
      state: accountDecider.initialState(),
      revision: -1,
      tail: Promise.resolve(),
      currency,
    });
    await account(accountId, {
      type: 'OpenAccount',
      data: { accountId, ownerId: `owner-${rng.int(1, 5000)}`, currency },
    });
    await account(accountId, {
      type: 'DepositCash',
      data: { accountId, amount: rng.int(10_000, 1_000_000) },
    });
    if (!byCurrency.has(currency)) byCurrency.set(currency, []);
    byCurrency.get(currency)!.push(accountId);
    if (merchant) {
      if (!merchants.has(currency)) merchants.set(currency, []);
      merchants.get(currency)!.push(accountId);
    }
  };

  const pick = (ids: readonly string[]) => ids[rng.int(0, ids.length - 1)]!;
  const available = (accountId: string) => {
    const state = accounts.get(accountId)!.state;
    return state.status === 'Unopened' ? 0 : state.available;
  };

  /** Runs a transfer's saga by the coordinator's rules; returns once it has ended. */
  const transfer = async () => {
    const currency = pick([...byCurrency.keys()]);
    const pool = byCurrency.get(currency)!;
    const fromAccountId = pick(pool);
    if (accounts.get(fromAccountId)!.state.status !== 'Open') return;
    const payees = rng.next() < 0.5 ? (merchants.get(currency) ?? pool) : pool;
    const toAccountId = pick(payees);
    if (toAccountId === fromAccountId) return;
    const transferId = randomUUID();
    transferCount++;
    const details: TransferDetails = {
      transferId,
      fromAccountId,
      toAccountId,
      amount:
        rng.int(1, Math.max(1, Math.floor(available(fromAccountId) * 0.6))) +
        (rng.next() < 0.06 ? 2_000_000 : 0),
      currency,
      ...(rng.next() < 0.3 ? { reference: `invoice ${rng.int(1, 99_999)}` } : {}),
      deadlineAt: new Date(now() + DEADLINE_MS).toISOString(),
    };
    const stall = rng.next() < 0.015;
    const lateDebit = stall && rng.next() < 0.3;
    const send = async (command: Command, cause: string) =>
      (await execute(command, transferId, cause)).map((event) => ({ event, id: randomUUID() }));
    const drive = async (queue: { event: DomainEvent; id: string }[], mayStall: boolean): Promise<void> => {
      while (queue.length > 0) {
        const { event, id } = queue.shift()!;
        if (!isSagaEvent(event)) continue;
        const reaction = react(event, transfers.get(transferId)!.state, new Date(now()));
        if (mayStall && event.type === 'TransferCreditRecorded') {
          // The saga falls behind: the deadline job has the source void the debit before the debit
          // is sent (or, in the race, just after it landed, when the transfer goes forward). The
          // rest runs detached from the worker.
          detached.push(
            (async () => {
              await new Promise<void>((resume) =>
                stalled.push({ at: Date.parse(details.deadlineAt), resume }),
              );
              const source = accounts.get(fromAccountId)!.state;
              const expiry = onDeadline(
                transfers.get(transferId)!.state,
                source.status === 'Unopened' ? undefined : source.legs.get(transferId),
                new Date(now()),
              );
              for (const command of lateDebit ? [...reaction.commands, ...expiry] : expiry) {
                queue.push(...(await send(command, id)));
              }
              await drive(queue, false);
            })(),
          );
          return;
        }
        for (const command of reaction.commands) queue.push(...(await send(command, id)));
      }
    };
    await drive(
      await send(
        { aggregate: 'transfer', id: transferId, command: { type: 'RequestTransfer', data: details } },
        'generator',
      ),
      stall,
    );
  };

  const cashOperation = async (kind: number) => {
    const accountId = pick(byCurrency.get(pick([...byCurrency.keys()]))!);
    const state = accounts.get(accountId)!.state;
    if (state.status !== 'Open') return;
    if (kind < 0.55) {
      await account(accountId, {
        type: 'DepositCash',
        data: {
          accountId,
          amount: rng.int(100, 200_000),
          ...(rng.next() < 0.5 ? { reference: 'branch' } : {}),
        },
      });
    } else if (kind < 0.95) {
      if (state.available === 0) return;
      await account(accountId, {
        type: 'WithdrawCash',
        data: { accountId, amount: rng.int(1, Math.ceil(state.available / 2)), reference: 'atm' },
      });
    } else if (kind > 0.995 && state.pending === 0) {
      if (state.available > 0) {
        await account(accountId, { type: 'WithdrawCash', data: { accountId, amount: state.available } });
      }
      await account(accountId, { type: 'CloseAccount', data: { accountId } });
    }
  };

  const initialAccounts = options.accounts ?? Math.max(20, Math.round(options.events / 100));
  const concurrency = options.concurrency ?? 32;
  const opening = Array.from({ length: initialAccounts }, (_, i) => i);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = opening.pop(); i !== undefined; i = opening.pop()) {
        await openAccount(CURRENCIES[i % CURRENCIES.length]!, i % 10 === 0);
      }
    }),
  );

  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (written < options.events) {
        const roll = rng.next();
        if (roll < 0.8) {
          await transfer();
        } else if (roll < 0.99) {
          await cashOperation(rng.next());
        } else {
          await openAccount(pick(CURRENCIES), false);
        }
      }
    }),
  );
  // The clock stops when the traffic does: fire every deadline still waiting.
  while (stalled.length > 0) {
    commands += DEADLINE_MS / stepMs;
    wakeStalled();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await Promise.all(detached);
  await Promise.all([...accounts.values(), ...transfers.values()].map((aggregate) => aggregate.tail));
  options.onProgress?.(written);
  return {
    events: written,
    accounts: accounts.size,
    transfers: transferCount,
    cash,
    firstTime: new Date(start).toISOString(),
    lastTime: new Date(now()).toISOString(),
  };
}
