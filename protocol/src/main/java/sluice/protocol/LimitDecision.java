package sluice.protocol;

/**
 * A controller's decision for one back-end: the new limit and why. Sent from the
 * controller to the entity beside it.
 */
public record LimitDecision(String backendId, int limit, String reason)
    implements LeaseProtocol.Command {}
