package org.netqueue;

/** What a full receive queue does (nq_queue_policy). */
public enum QueuePolicy { BLOCK, DROP_OLDEST, DROP_NEWEST }
