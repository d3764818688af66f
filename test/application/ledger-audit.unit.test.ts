import { describe, expect, it } from 'vitest';
import { type Check, createFindings, createLedgerAudit } from '../../src/application/ledger-audit.ts';
import type { RecordedEvent } from '../../src/application/ports/event-store.ts';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const T = '00000000-0000-4000-8000-0000000000f1';
const NOW = new Date('2030-01-01T00:10:00.000Z');

/** A log written by hand: each event gets the next position and its stream's next revision. */
function log() {
  const events: RecordedEvent[] = [];
  const revisions = new Map<string, number>();
  const add = (streamName: string, type: string, data: Record<string, unknown>) => {
    const revision = (revisions.get(streamName) ?? -1) + 1;
    revisions.set(streamName, revision);
    events.push({
      id: `e${events.length + 1}`,
      type,
      data,
      metadata: { correlationId: T, causationId: 'c', occurredAt: NOW.toISOString(), schemaVersion: 1 },
      streamName,
      revision,
      position: events.length + 1,
    });
    return add;
  };
  return { events, add };
}

/** Two accounts, A funded with 1000, and one transfer of 300 from A to B carried to its end. */
function completedTransfer() {
  const { events, add } = log();
  const leg = { transferId: T, amount: 300 };
  add(`account-${A}`, 'AccountOpened', { accountId: A, ownerId: 'o', currency: 'EUR' })(
    `account-${B}`,
    'AccountOpened',
    { accountId: B, ownerId: 'o', currency: 'EUR' },
  )(`account-${A}`, 'CashDeposited', { accountId: A, amount: 1000 })(`transfer-${T}`, 'TransferRequested', {
    transferId: T,
    fromAccountId: A,
    toAccountId: B,
    amount: 300,
    currency: 'EUR',
    deadlineAt: '2030-01-01T00:00:30.000Z',
  })(`account-${B}`, 'TransferCreditHeld', { accountId: B, fromAccountId: A, ...leg })(
    `transfer-${T}`,
    'TransferCreditRecorded',
    { transferId: T },
  )(`account-${A}`, 'TransferDebited', { accountId: A, toAccountId: B, ...leg })(
    `transfer-${T}`,
    'TransferDebitRecorded',
    { transferId: T },
  )(`account-${B}`, 'TransferCreditReleased', { accountId: B, ...leg })(
    `transfer-${T}`,
    'TransferCompleted',
    {
      transferId: T,
    },
  );
  return { events, add };
}

function audit(events: readonly RecordedEvent[]) {
  const findings = createFindings();
  const ledger = createLedgerAudit(findings);
  for (const event of events) ledger.apply(event);
  const totals = ledger.finish(NOW);
  return { totals, ...findings.summary() };
}

const checks = (events: readonly RecordedEvent[]): Check[] => audit(events).discrepancies.map((d) => d.check);

describe('ledger audit (esbank verify folds the log with the domain deciders)', () => {
  it('finds nothing wrong in a completed transfer, and totals what it folded', () => {
    const { events } = completedTransfer();
    const result = audit(events);
    expect(result.discrepancies).toEqual([]);
    expect(result.totals).toEqual({ events: 10, accounts: 2, transfers: 1, cash: 1000, held: 1000 });
  });

  it('names a leg recorded twice (and the money it destroyed)', () => {
    const { events, add } = completedTransfer();
    add(`account-${A}`, 'TransferDebited', { accountId: A, toAccountId: B, transferId: T, amount: 300 });
    const result = audit(events);
    expect(result.counts).toEqual({ 'leg-once': 1, 'money-conserved': 1 });
    expect(result.discrepancies[0]!.detail).toContain('TransferDebited');
    expect(result.discrepancies[1]!.detail).toContain('destroyed 300');
  });

  it('names money created out of nothing', () => {
    const { events, add } = completedTransfer();
    add(`account-${B}`, 'TransferDebitRefunded', { accountId: B, transferId: 'other', amount: 50 });
    expect(checks(events)).toEqual(['money-conserved']);
  });

  it('names a negative balance once per account', () => {
    const { events, add } = completedTransfer();
    add(`account-${A}`, 'CashWithdrawn', { accountId: A, amount: 800 })(`account-${A}`, 'CashWithdrawn', {
      accountId: A,
      amount: 1,
    });
    expect(checks(events)).toEqual(['no-negative-balance']);
  });

  it('names a closed account that still holds money', () => {
    const { events, add } = completedTransfer();
    add(`account-${B}`, 'AccountClosed', { accountId: B });
    expect(checks(events)).toEqual(['closed-account-empty']);
  });

  it('names a transfer in flight past its deadline, not one within it', () => {
    const { events, add } = log();
    add(`transfer-${T}`, 'TransferRequested', {
      transferId: T,
      fromAccountId: A,
      toAccountId: B,
      amount: 1,
      currency: 'EUR',
      deadlineAt: NOW.toISOString(),
    });
    expect(checks(events)).toEqual([]);
    const late = events.map((e) => ({ ...e, data: { ...e.data, deadlineAt: '2030-01-01T00:09:59.999Z' } }));
    expect(checks(late)).toEqual(['transfer-ends']);
  });

  it('names a transfer cancelled after its source was debited; a refunded one is only a note', () => {
    const { events } = completedTransfer();
    const cancelled = events.filter(
      (e) => e.type !== 'TransferCompleted' && e.type !== 'TransferCreditReleased',
    );
    const withCancel = [
      ...cancelled,
      {
        ...cancelled.at(-1)!,
        type: 'TransferCancelled',
        data: { transferId: T, reason: 'DEADLINE_EXPIRED' },
      },
    ].map((e, i) => ({ ...e, position: i + 1 }));
    expect(checks(withCancel)).toContain('forward-after-pivot');
    const refund = {
      ...withCancel.find((e) => e.type === 'TransferDebited')!,
      type: 'TransferDebitRefunded',
      data: { accountId: A, transferId: T, amount: 300 },
      position: withCancel.length + 1,
    };
    const result = audit([...withCancel, refund]);
    expect(result.discrepancies.map((d) => d.check)).not.toContain('forward-after-pivot');
    expect(result.noteCount).toBe(1);
  });

  it('keeps the first few discrepancies of a check and counts them all', () => {
    const { events, add } = completedTransfer();
    for (let i = 0; i < 120; i++)
      add(`account-${A}`, 'TransferDebited', { accountId: A, transferId: T, amount: 1 });
    const result = audit(events);
    expect(result.counts['leg-once']).toBe(120);
    expect(result.discrepancies.filter((d) => d.check === 'leg-once')).toHaveLength(50);
  });
});
