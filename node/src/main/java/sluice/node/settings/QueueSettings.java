package sluice.node.settings;

import java.time.Duration;

/**
 * A pool's FIFO of waiting requests (per node).
 *
 * @param max                      above this many waiting, a new request gets 503
 * @param timeout                  a request that waited this long gets 503
 * @param refuseConnectionsAbove   while more than this many wait (in any pool), new client
 *                                 connections are closed at once; at most max
 * @param retryAfter               the Retry-After given with a 503
 */
public record QueueSettings(int max, Duration timeout, int refuseConnectionsAbove, Duration retryAfter) {}
