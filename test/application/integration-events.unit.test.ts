import { describe, expect, it } from 'vitest';
import { correlationIdOf, toIntegrationEvent } from '../../src/application/integration-events.ts';
import type { RecordedEvent } from '../../src/application/ports/event-store.ts';
import { ACCOUNT_EVENT_TYPES } from '../../src/domain/account/events.ts';
import { TRANSFER_EVENT_TYPES } from '../../src/domain/transfer/events.ts';

const ACCOUNT = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
const TRANSFER = '33333333-3333-4333-8333-333333333333';
const AT = '2030-01-01T10:00:00.000Z';

let position = 0;
const recorded = (streamName: string, revision: number, type: string, data: Record<string, unknown>) =>
  ({
    id: `00000000-0000-4000-8000-${String(++position).padStart(12, '0')}`,
    type,
    data,
    metadata: { correlationId: 'c', causationId: 'c', occurredAt: AT, schemaVersion: 1 },
    streamName,
    revision,
    position,
  }) satisfies RecordedEvent;

const opened = recorded(`account-${ACCOUNT}`, 0, 'AccountOpened', {
  accountId: ACCOUNT,
  ownerId: 'alice',
  currency: 'EUR',
});
const requested = recorded(`transfer-${TRANSFER}`, 0, 'TransferRequested', {
  transferId: TRANSFER,
  fromAccountId: ACCOUNT,
  toAccountId: OTHER,
  amount: 2500,
  currency: 'EUR',
  reference: 'rent',
  deadlineAt: '2030-01-01T10:00:30.000Z',
});
const onAccount = (revision: number, type: string, data: Record<string, unknown>) =>
  recorded(`account-${ACCOUNT}`, revision, type, data);
const onTransfer = (revision: number, type: string, data: Record<string, unknown>) =>
  recorded(`transfer-${TRANSFER}`, revision, type, data);

const transferData = {
  transferId: TRANSFER,
  fromAccountId: ACCOUNT,
  toAccountId: OTHER,
  amount: 2500,
  currency: 'EUR',
};

/** The public contract, version 1: these literals change only with a new version (SPEC §10). */
describe('integration events v1', () => {
  it.each([
    [
      'AccountOpened',
      opened,
      opened,
      'account.opened',
      { accountId: ACCOUNT, ownerId: 'alice', currency: 'EUR' },
    ],
    [
      'CashDeposited',
      onAccount(1, 'CashDeposited', { accountId: ACCOUNT, amount: 700, reference: 'x', operationId: 'o' }),
      opened,
      'account.cash-deposited',
      { accountId: ACCOUNT, amount: 700, currency: 'EUR' },
    ],
    [
      'CashWithdrawn',
      onAccount(2, 'CashWithdrawn', { accountId: ACCOUNT, amount: 300 }),
      opened,
      'account.cash-withdrawn',
      { accountId: ACCOUNT, amount: 300, currency: 'EUR' },
    ],
    [
      'AccountClosed',
      onAccount(3, 'AccountClosed', { accountId: ACCOUNT }),
      opened,
      'account.closed',
      { accountId: ACCOUNT, currency: 'EUR' },
    ],
    ['TransferRequested', requested, requested, 'transfer.requested', transferData],
    [
      'TransferCompleted',
      onTransfer(3, 'TransferCompleted', { transferId: TRANSFER }),
      requested,
      'transfer.completed',
      transferData,
    ],
    [
      'TransferCancelled',
      onTransfer(2, 'TransferCancelled', { transferId: TRANSFER, reason: 'BALANCE_LIMIT' }),
      requested,
      'transfer.cancelled',
      { ...transferData, reason: 'BALANCE_LIMIT' },
    ],
  ])('%s becomes %s', (_internal, event, opening, type, data) => {
    const published = toIntegrationEvent(event, opening);
    expect(published).toStrictEqual({
      id: event.id,
      type,
      version: 1,
      occurredAt: AT,
      position: event.position,
      data,
    });
    expect(Object.keys(published!)).toEqual(['id', 'type', 'version', 'occurredAt', 'position', 'data']);
    expect(correlationIdOf(published!)).toBe(type.startsWith('transfer.') ? TRANSFER : undefined);
  });

  it('keeps every other internal event, and unknown ones, inside', () => {
    const published = ['AccountOpened', 'CashDeposited', 'CashWithdrawn', 'AccountClosed'];
    for (const type of ACCOUNT_EVENT_TYPES.filter((t) => !published.includes(t))) {
      expect(
        toIntegrationEvent(onAccount(1, type, { accountId: ACCOUNT, transferId: TRANSFER }), opened),
      ).toBeNull();
    }
    for (const type of TRANSFER_EVENT_TYPES.filter((t) => !t.match(/Requested|Completed|Cancelled/))) {
      expect(toIntegrationEvent(onTransfer(1, type, { transferId: TRANSFER }), requested)).toBeNull();
    }
    expect(
      toIntegrationEvent(onAccount(1, 'TransferDebitVoided', { accountId: ACCOUNT }), opened),
    ).toBeNull();
  });

  it('refuses an opening that is not the first event of the same stream', () => {
    const deposit = onAccount(1, 'CashDeposited', { accountId: ACCOUNT, amount: 1 });
    expect(() => toIntegrationEvent(deposit, requested)).toThrow(/does not open with AccountOpened/);
  });
});
