import type { EventStore } from '../../src/application/ports/event-store.ts';
import { accountStreamName } from '../../src/domain/account/index.ts';
import { transferStreamName } from '../../src/domain/transfer/index.ts';

/**
 * Appends what the code before the void wrote in the old deadline race: the transfer of 60 from
 * `from` to `to` was cancelled by its deadline, and its in-flight debit landed on `from` after it.
 */
export async function appendCancelledThenDebited(
  store: EventStore,
  {
    from,
    to,
    transferId = '00000000-0000-4000-8000-000000000001',
  }: { from: string; to: string; transferId?: string },
) {
  const at = (stream: string, type: string, data: Record<string, unknown>, n: number) => ({
    stream,
    event: {
      id: `00000000-0000-4000-8000-0000000001${String(n).padStart(2, '0')}`,
      type,
      data,
      metadata: {
        correlationId: transferId,
        causationId: `legacy-${n}`,
        occurredAt: '2029-12-31T00:00:00.000Z',
        schemaVersion: 1,
      },
    },
  });
  const transfer = transferStreamName(transferId);
  const leg = { transferId, amount: 60 };
  const legacy = [
    at(
      transfer,
      'TransferRequested',
      {
        transferId,
        fromAccountId: from,
        toAccountId: to,
        amount: 60,
        currency: 'EUR',
        deadlineAt: '2029-12-31T00:00:30.000Z',
      },
      1,
    ),
    at(accountStreamName(to), 'TransferCreditHeld', { accountId: to, ...leg, fromAccountId: from }, 2),
    at(transfer, 'TransferCreditRecorded', { transferId }, 3),
    at(transfer, 'TransferCancelled', { transferId, reason: 'DEADLINE_EXPIRED' }, 4),
    at(accountStreamName(from), 'TransferDebited', { accountId: from, ...leg, toAccountId: to }, 5),
  ];
  for (const { stream, event } of legacy) await store.append(stream, [event], 'any');
  return transferId;
}
