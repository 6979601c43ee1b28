package org.netqueue;

import java.util.ArrayDeque;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One subscriber's subscription to {@link Communicator#events()} or
 * {@link Communicator#messages}: its demand, the few items taken for it and
 * not yet signalled, and its terminal signal. Signals go out serially
 * (Flow rule 1.3) from whichever thread makes progress possible — the
 * communicator's drain thread when an item comes, the thread of
 * {@code request} for items taken before — with no lock held, so a
 * subscriber may request, cancel or close from inside {@code onNext}.
 *
 * The source takes an item from the library only while {@link #wants()}:
 * the demand not yet covered by queued items. So the queue holds at most
 * what was requested, plus one item taken before a cancel of the
 * library's receive came too late.
 */
abstract class FlowSubscription<T> implements Flow.Subscription {
    final Flow.Subscriber<? super T> subscriber;
    private final ArrayDeque<T> queue = new ArrayDeque<>(); // guarded by this
    private long demand;               // guarded by this; Long.MAX_VALUE: unbounded
    private boolean done;              // guarded by this: the terminal signal is decided
    private Throwable error;           // guarded by this: onError's, or null for onComplete
    private volatile boolean finished; // cancelled, or the terminal signal is sent
    // Signalling in progress (and signals asked for meanwhile): held from
    // creation by the subscribing thread until onSubscribe has returned.
    private final AtomicInteger wip = new AtomicInteger(1);

    FlowSubscription(Flow.Subscriber<? super T> subscriber) {
        this.subscriber = subscriber;
    }

    /** The demand changed (request): the source may take more (no lock held). */
    abstract void more();

    /** Cancelled by the subscriber, once: the source forgets it and stops
     * taking items for it, and gets back the items taken for it and not
     * signalled, oldest first (no lock held). */
    abstract void cancelled(java.util.List<T> undelivered);

    /** Outstanding demand not covered by queued items, and not finished. */
    final synchronized boolean wants() {
        return !finished && !done && demand > queue.size();
    }

    final boolean isFinished() { return finished; }

    /** Queue an item for the subscriber (false: finished, not queued);
     * {@link #drain} signals it. */
    final synchronized boolean enqueue(T item) {
        if (finished || done) return false;
        queue.addLast(item);
        return true;
    }

    /** Decide the terminal signal (null: onComplete), sent after the
     * queued items the subscriber requested; the others are dropped. */
    final void terminate(Throwable err) {
        synchronized (this) {
            if (done || finished) return;
            done = true;
            error = err;
        }
        drain();
    }

    @Override
    public final void request(long n) {
        if (n <= 0) { // rule 3.9: onError, and the subscription is over
            synchronized (this) {
                if (finished || done) return;
            }
            terminate(new IllegalArgumentException("Flow.Subscription.request: " + n + " is not positive (rule 3.9)"));
            cancelled(java.util.List.of());
            return;
        }
        synchronized (this) {
            if (finished || done) return;
            demand = demand + n < 0 ? Long.MAX_VALUE : demand + n; // saturates: unbounded
        }
        drain();
        more();
    }

    @Override
    public final void cancel() {
        java.util.List<T> undelivered;
        synchronized (this) {
            if (finished) return;
            finished = true;
            undelivered = new java.util.ArrayList<>(queue);
            queue.clear();
        }
        cancelled(undelivered);
    }

    /** Signal what can be signalled, on this thread unless another is at it (then it does it). */
    final void drain() {
        if (wip.getAndIncrement() != 0) return;
        drainLoop();
    }

    /** With wip held (this thread incremented it from 0). */
    private void drainLoop() {
        int missed = 1;
        do {
            while (true) {
                T item;
                synchronized (this) {
                    if (finished || demand == 0 || queue.isEmpty()) break;
                    item = queue.pollFirst();
                    if (demand != Long.MAX_VALUE) demand--;
                }
                try {
                    subscriber.onNext(item);
                } catch (Throwable t) { // rule 2.13: a subscriber that throws is cancelled
                    cancel();
                    uncaught(t);
                }
            }
            boolean end;
            Throwable err;
            synchronized (this) {
                end = done && !finished;
                err = error;
                if (end) {
                    finished = true;
                    queue.clear();
                }
            }
            if (end) {
                try {
                    if (err == null) subscriber.onComplete();
                    else subscriber.onError(err);
                } catch (Throwable t) {
                    uncaught(t);
                }
            }
            missed = wip.addAndGet(-missed);
        } while (missed != 0);
    }

    /**
     * Subscribe: onSubscribe, and no other signal before it returns (rule
     * 1.3): it runs holding wip (held since creation), so a drain asked for
     * meanwhile (an item the subscriber requested, close) is done by this
     * thread after it. Call once, on the subscribing thread.
     */
    final void start() {
        try {
            subscriber.onSubscribe(this);
        } catch (Throwable t) { // rule 2.13
            cancel();
            uncaught(t);
        }
        drainLoop();
    }

    /** What a listener or subscriber threw: to this thread's uncaught exception handler. */
    static void uncaught(Throwable t) {
        Thread th = Thread.currentThread();
        th.getUncaughtExceptionHandler().uncaughtException(th, t);
    }
}
