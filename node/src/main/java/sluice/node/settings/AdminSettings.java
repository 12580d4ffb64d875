package sluice.node.settings;

import java.util.Optional;

/**
 * The operator's listener: status and readiness (and, later, metrics and the admin API).
 *
 * @param host   address to bind
 * @param port   port to bind; 0 picks a free one
 * @param token  the bearer token every request but /ready and /live must carry; required
 *               when the listener is not on a loopback address
 */
public record AdminSettings(String host, int port, Optional<String> token) {}
