package sluice.node.settings;

import java.time.Duration;

/**
 * A node's persistent connections to each back-end of a pool.
 *
 * @param preOpen          connections opened at start (never more than the slots granted)
 * @param idleTimeout      an idle connection is closed after this long
 * @param connectTimeout   a connection attempt that takes longer fails
 * @param responseTimeout  no response head within this time gives 504
 * @param downBackoffMin   first wait before retrying a back-end that refused connections
 * @param downBackoffMax   longest wait between retries (doubles from min)
 * @param bufferResponsesUpTo a response whose length is known and at most this many bytes is
 *                         read whole before it is forwarded, so that a back-end dying
 *                         mid-response gives a clean 502; longer ones stream. Also the most
 *                         of a response one client connection may hold unread while its
 *                         back-end connection is already free
 */
public record ConnectionSettings(
    int preOpen,
    Duration idleTimeout,
    Duration connectTimeout,
    Duration responseTimeout,
    Duration downBackoffMin,
    Duration downBackoffMax,
    long bufferResponsesUpTo) {}
