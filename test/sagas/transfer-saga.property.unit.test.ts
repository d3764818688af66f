import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { createInMemorySagaStore } from '../../src/adapters/memory/saga-store.ts';
import type { RecordedEvent } from '../../src/application/ports/event-store.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { createBank, expectConservation, expectMoneyRules, replaySeed, request } from '../support/saga.ts';

type Step =
  | { kind: 'request'; from: number; to: number; amount: number }
  | { kind: 'deliver'; pick: number; duplicate: boolean }
  | { kind: 'deadlines'; advanceMs: number }
  | { kind: 'empty-and-close'; account: number };

const ACCOUNTS = 3;
const DEADLINE_MS = 1_000;

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      from: fc.nat(ACCOUNTS - 1),
      to: fc.nat(ACCOUNTS - 1),
      amount: fc.integer({ min: 1, max: 80 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(), duplicate: fc.boolean() }),
    weight: 6,
  },
  fc.record({ kind: fc.constant('deadlines' as const), advanceMs: fc.integer({ min: 0, max: 400 }) }),
  fc.record({ kind: fc.constant('empty-and-close' as const), account: fc.nat(ACCOUNTS - 1) }),
);

/**
 * Random transfers among a few accounts; saga events delivered in a random order, some twice;
 * deadlines fired at random clock times, so between any two steps; accounts emptied and closed
 * while transfers are in flight. Money is conserved at every step and at the end, and SPEC's rules
 * hold: a transfer whose source was debited completes, a closed account stays at 0, no
 * compensation is refused (nothing parked), every transfer ends.
 */
describe('transfer saga under random interleavings (property)', () => {
  it('never creates money, never overdraws, only goes forward after the pivot, and ends every transfer', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 100 }), { minLength: ACCOUNTS, maxLength: ACCOUNTS }),
        fc.array(step, { minLength: 10, maxLength: 80, size: 'max' }),
        async (deposits, steps) => {
          const store = createInMemoryEventStore();
          const sagaStore = createInMemorySagaStore();
          const bank = createBank(store, sagaStore, { deadlineMs: DEADLINE_MS });
          const coordinator = bank.coordinator();
          const accounts = await Promise.all(deposits.map((amount) => bank.openWith(amount)));
          let deposited = deposits.reduce((a, b) => a + b, 0);
          const transfers: string[] = [];
          let inbox: RecordedEvent[] = [];
          let seen = await store.headPosition();

          const collect = async () => {
            const fresh = await store.readAll({ after: seen, batchSize: 10_000 });
            if (fresh.length) seen = fresh[fresh.length - 1]!.position;
            inbox.push(...fresh);
          };
          const checkInvariants = async () => {
            const balances = await bank.balances(accounts);
            for (const b of balances) expect(b.available).toBeGreaterThanOrEqual(0);
            expect(balances.reduce((sum, b) => sum + b.available, 0)).toBeLessThanOrEqual(deposited);
          };

          for (const s of steps) {
            if (s.kind === 'request') {
              try {
                const { transferId } = await bank.banking.requestTransfer(
                  { fromAccountId: accounts[s.from]!, toAccountId: accounts[s.to]!, amount: s.amount },
                  request,
                );
                transfers.push(transferId);
              } catch (error) {
                expect(error).toBeInstanceOf(DomainError); // same account
              }
            } else if (s.kind === 'deliver' && inbox.length > 0) {
              const index = s.pick % inbox.length;
              const event = inbox[index]!;
              if (!s.duplicate) inbox.splice(index, 1);
              await coordinator.handleBatch([event]);
            } else if (s.kind === 'deadlines') {
              bank.clock.advance(s.advanceMs);
              await coordinator.fireDueDeadlines();
            } else if (s.kind === 'empty-and-close') {
              const accountId = accounts[s.account]!;
              const { available } = (await bank.balances([accountId]))[0]!;
              try {
                if (available > 0) {
                  await bank.banking.withdrawCash({ accountId, amount: available }, request);
                  deposited -= available;
                }
                await bank.banking.closeAccount({ accountId }, request);
              } catch (error) {
                expect(['ACCOUNT_HAS_PENDING_TRANSFERS', 'ACCOUNT_CLOSED']).toContain(
                  (error as DomainError).code,
                );
              }
            }
            await collect();
            await checkInvariants();
          }

          // Quiescence: deliver everything, let every deadline pass, deliver again (bounded).
          for (let round = 0; round < 50 && (inbox.length > 0 || round < 2); round++) {
            const batch = inbox;
            inbox = [];
            for (const event of batch) await coordinator.handleBatch([event]);
            if (inbox.length === 0) {
              bank.clock.advance(DEADLINE_MS + 1);
              await coordinator.fireDueDeadlines();
            }
            await collect();
          }
          expect(inbox).toEqual([]);
          const states = await Promise.all(transfers.map(bank.transferState));
          for (const state of states) expect(['Completed', 'Cancelled']).toContain(state.status);
          const balances = await bank.balances(accounts);
          expect(balances.every((b) => b.pending === 0)).toBe(true);
          expect(balances.reduce((sum, b) => sum + b.available, 0)).toBe(deposited);
          await expectConservation(store);
          await expectMoneyRules(store);
          expect(await sagaStore.parked(), 'no compensation refused, nothing parked').toEqual([]);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 1000), ...replaySeed('saga property test') },
    );
  });
});
