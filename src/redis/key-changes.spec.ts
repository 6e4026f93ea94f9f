import { KeyChange } from './key-changes';

describe('KeyChange: one status request registered for a report change', () => {
  const registered = (signal = new AbortController().signal) => {
    const state = { unregistered: 0 };
    const change = new KeyChange(signal, () => state.unregistered++);
    return { change, state };
  };
  const settled = async (promise: Promise<void>) => {
    let done = false;
    void promise.then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    return done;
  };

  it('remembers a change that came before the wait: the wait then ends at once', async () => {
    const { change } = registered();
    change.wake();
    expect(change.changed).toBe(true);
    expect(await settled(change.wait(60_000))).toBe(true);
  });

  it('ends a running wait on the change, and not before', async () => {
    const { change } = registered();
    const wait = change.wait(60_000);
    expect(await settled(wait)).toBe(false);
    change.wake();
    expect(await settled(wait)).toBe(true);
  });

  it('ends the wait when the client leaves, before or during it', async () => {
    const left = new AbortController();
    left.abort();
    expect(await settled(registered(left.signal).change.wait(60_000))).toBe(true);

    const leaving = new AbortController();
    const { change } = registered(leaving.signal);
    const wait = change.wait(60_000);
    leaving.abort();
    expect(await settled(wait)).toBe(true);
  });

  it('ends the wait at the deadline without counting it as a change', async () => {
    const { change } = registered();
    await change.wait(1);
    expect(change.changed).toBe(false);
  });

  it('dispose ends a running wait and unregisters', async () => {
    const { change, state } = registered();
    const wait = change.wait(60_000);
    change.dispose();
    expect(await settled(wait)).toBe(true);
    expect(state.unregistered).toBe(1);
  });
});
