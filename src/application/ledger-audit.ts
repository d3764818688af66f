import { Map as ImmutableMap } from 'immutable';
import {
  type AccountEvent,
  type AccountState,
  accountDecider,
  type OpenedAccount,
  type TransferLeg,
} from '../domain/account/index.ts';
import {
  type ExistingTransfer,
  publicStatus,
  type TransferEvent,
  type TransferState,
  transferDecider,
} from '../domain/transfer/index.ts';
import type { RecordedEvent } from './ports/event-store.ts';

/** The invariants `esbank verify` checks (SPEC §2, §3, §7), and the read models against the log. */
export type Check =
  | 'money-conserved'
  | 'no-negative-balance'
  | 'leg-once'
  | 'transfer-ends'
  | 'closed-account-empty'
  | 'forward-after-pivot'
  | 'read-model';

export type Discrepancy = { check: Check; subject: string; detail: string; position?: number };

/** Findings that are not discrepancies: histories written before a rule that now forbids them. */
export type Note = { subject: string; detail: string };

/** An account as folded, its balances and status (its `legs` record is kept apart: here it holds one leg at most). */
export type FoldedAccount = { state: OpenedAccount; revision: number };
export type FoldedTransfer = { state: ExistingTransfer; revision: number; lastPosition: number };

export type LedgerTotals = {
  events: number;
  accounts: number;
  transfers: number;
  /** Cash deposited minus cash withdrawn, from the events. */
  cash: number;
  /** What the accounts hold together, available and pending, folded from the log. */
  held: number;
};

/** At most this many discrepancies of one check are kept (the count goes on): a broken store stays readable. */
const KEPT_PER_CHECK = 50;

/**
 * Collects discrepancies, keeping the first KEPT_PER_CHECK of each check and counting them all,
 * so memory stays bounded however broken the store is.
 */
export function createFindings() {
  const kept: Discrepancy[] = [];
  const counts = new Map<Check, number>();
  const notes: Note[] = [];
  let noteCount = 0;
  return {
    report(discrepancy: Discrepancy) {
      const seen = counts.get(discrepancy.check) ?? 0;
      counts.set(discrepancy.check, seen + 1);
      if (seen < KEPT_PER_CHECK) kept.push(discrepancy);
    },
    note(note: Note) {
      if (noteCount++ < KEPT_PER_CHECK) notes.push(note);
    },
    summary: () => ({
      discrepancies: kept,
      counts: Object.fromEntries(counts) as Partial<Record<Check, number>>,
      total: [...counts.values()].reduce((a, b) => a + b, 0),
      notes,
      noteCount,
    }),
  };
}
export type Findings = ReturnType<typeof createFindings>;

const ACCOUNT_PREFIX = 'account-';
const TRANSFER_PREFIX = 'transfer-';

/** Leg phases in which the source's money has left it: after the pivot. */
const DEBITED_PHASES = new Set(['debited', 'refunded']);

/** A transfer's leg on one account, and the steps (event types, one bit each) it has recorded. */
type KnownLeg = { leg: TransferLeg | undefined; steps: number };
type KnownAccount = { state: AccountState; revision: number; legs: Map<string, KnownLeg> };

const NO_LEGS = ImmutableMap<string, TransferLeg>();

/**
 * Folds the whole log, in log order, with the domain's own `evolve` (so a new event type is
 * audited as the aggregates apply it), and checks what must hold of every account and transfer.
 * Memory grows with the number of aggregates, never with the number of events.
 *
 * An account's `legs` record is kept apart, one entry per transfer beside the audit's own record
 * of the steps seen for it, so each leg is held once: each event is evolved on the account with
 * the one leg it concerns, which is all evolve reads of it. (It was first kept apart because
 * evolve copied the whole record at each event, quadratic over a long history: 60% of the fold's
 * time on bench:replay's log, before the legs became a persistent map.)
 */
export function createLedgerAudit(findings: Findings) {
  const accounts = new Map<string, KnownAccount>();
  const transfers = new Map<string, { state: TransferState; revision: number; lastPosition: number }>();
  const stepBits = new Map<string, number>();
  const negative = new Set<string>();
  let events = 0;
  let cash = 0;

  const stepBit = (type: string) => {
    let bit = stepBits.get(type);
    if (bit === undefined) {
      bit = 2 ** stepBits.size; // a handful of account event types: far below 31 bits
      stepBits.set(type, bit);
    }
    return bit;
  };

  function applyToAccount(id: string, event: RecordedEvent) {
    let known = accounts.get(id);
    if (!known) {
      known = { state: accountDecider.initialState(), revision: -1, legs: new Map() };
      accounts.set(id, known);
    }
    const transferId = typeof event.data.transferId === 'string' ? event.data.transferId : undefined;
    const leg = transferId === undefined ? undefined : known.legs.get(transferId);
    const before: AccountState =
      known.state.status === 'Unopened' || transferId === undefined
        ? known.state
        : { ...known.state, legs: leg?.leg ? NO_LEGS.set(transferId, leg.leg) : NO_LEGS };
    const evolved = accountDecider.evolve(before, event as unknown as AccountEvent);
    known.revision = event.revision;
    known.state = evolved;
    if (evolved.status === 'Unopened') return;
    if (event.type === 'CashDeposited') cash += Number(event.data.amount);
    if (event.type === 'CashWithdrawn') cash -= Number(event.data.amount);
    if (transferId !== undefined) {
      const bit = stepBit(event.type);
      const steps = leg?.steps ?? 0;
      if (leg) {
        leg.leg = evolved.legs.get(transferId);
        leg.steps = steps | bit;
      } else known.legs.set(transferId, { leg: evolved.legs.get(transferId), steps: bit });
      if (steps & bit) {
        findings.report({
          check: 'leg-once',
          subject: `account ${id}`,
          detail: `${event.type} for transfer ${transferId} recorded again (the leg is ${evolved.legs.get(transferId)?.phase})`,
          position: event.position,
        });
      }
    }
    if ((evolved.available < 0 || evolved.pending < 0) && !negative.has(id)) {
      negative.add(id);
      findings.report({
        check: 'no-negative-balance',
        subject: `account ${id}`,
        detail: `available ${evolved.available}, pending ${evolved.pending} after ${event.type}`,
        position: event.position,
      });
    }
  }

  function applyToTransfer(id: string, event: RecordedEvent) {
    const known = transfers.get(id) ?? {
      state: transferDecider.initialState(),
      revision: -1,
      lastPosition: 0,
    };
    const state = transferDecider.evolve(known.state, event as unknown as TransferEvent);
    transfers.set(id, { state, revision: event.revision, lastPosition: event.position });
  }

  function* allLegs(): Generator<[string, string, TransferLeg | undefined]> {
    for (const [accountId, { legs }] of accounts)
      for (const [transferId, { leg }] of legs) yield [accountId, transferId, leg];
  }

  return {
    /** Folds one event; events must come in log order. */
    apply(event: RecordedEvent) {
      events++;
      if (event.streamName.startsWith(ACCOUNT_PREFIX))
        applyToAccount(event.streamName.slice(ACCOUNT_PREFIX.length), event);
      else if (event.streamName.startsWith(TRANSFER_PREFIX))
        applyToTransfer(event.streamName.slice(TRANSFER_PREFIX.length), event);
    },
    eventsSoFar: () => events,
    /** The account as folded so far (null before it was opened). */
    account(id: string): FoldedAccount | null {
      const known = accounts.get(id);
      return known && known.state.status !== 'Unopened'
        ? { state: known.state, revision: known.revision }
        : null;
    },
    *foldedAccounts(): Generator<[string, FoldedAccount]> {
      for (const [id, { state, revision }] of accounts)
        if (state.status !== 'Unopened') yield [id, { state, revision }];
    },
    *foldedTransfers(): Generator<[string, FoldedTransfer]> {
      for (const [id, known] of transfers)
        if (known.state.status !== 'None') yield [id, { ...known, state: known.state }];
    },
    /** The checks over the final state; `now` decides which transfers are past their deadline. */
    finish(now: Date): LedgerTotals {
      let held = 0;
      for (const [id, { state }] of this.foldedAccounts()) {
        held += state.available + state.pending;
        if (state.status === 'Closed' && (state.available !== 0 || state.pending !== 0)) {
          findings.report({
            check: 'closed-account-empty',
            subject: `account ${id}`,
            detail: `closed but holds available ${state.available}, pending ${state.pending}`,
          });
        }
      }
      for (const [accountId, transferId, leg] of allLegs()) {
        if (leg?.side !== 'debit' || !DEBITED_PHASES.has(leg.phase)) continue;
        const transfer = transfers.get(transferId)?.state;
        if (transfer?.status !== 'Cancelled') continue;
        if (leg.phase === 'refunded') {
          findings.note({
            subject: `transfer ${transferId}`,
            detail:
              'cancelled after its source was debited, and refunded (a history from before the forward-only rule)',
          });
        } else {
          findings.report({
            check: 'forward-after-pivot',
            subject: `transfer ${transferId}`,
            detail: `source account ${accountId} recorded the debit, yet the transfer is CANCELLED (${transfer.reason})`,
          });
        }
      }
      if (held !== cash) {
        findings.report({
          check: 'money-conserved',
          subject: 'ledger',
          detail: `accounts hold ${held} (available + pending) but cash deposited minus withdrawn is ${cash}: ${held > cash ? 'created' : 'destroyed'} ${Math.abs(held - cash)}`,
        });
      }
      let count = 0;
      for (const [id, { state }] of this.foldedTransfers()) {
        count++;
        if (publicStatus(state) !== 'PENDING') continue;
        const deadline = Date.parse(state.details.deadlineAt);
        if (!(deadline >= now.getTime())) {
          findings.report({
            check: 'transfer-ends',
            subject: `transfer ${id}`,
            detail: `still ${state.status} after its deadline ${state.details.deadlineAt}`,
          });
        }
      }
      let opened = 0;
      for (const _ of this.foldedAccounts()) opened++;
      return { events, accounts: opened, transfers: count, cash, held };
    },
  };
}
export type LedgerAudit = ReturnType<typeof createLedgerAudit>;
