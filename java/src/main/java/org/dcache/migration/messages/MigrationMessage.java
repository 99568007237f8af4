package org.dcache.migration.messages;

/**
 * A message to the migration module of a pool, as other pools, QoS, resilience and the
 * Rebalancer send it. The classes of this package mirror dCache's
 * {@code org.dcache.pool.migration} messages field by field, with dCache's getter names, so a
 * bridge between the two copies fields:
 *
 * <table>
 * <caption>dCache's messages and these</caption>
 * <tr><th>dCache</th><th>here</th></tr>
 * <tr><td>{@code PoolMigrationCopyReplicaMessage}</td><td>{@link CopyReplicaMessage}</td></tr>
 * <tr><td>{@code PoolMigrationPingMessage}</td><td>{@link PingMessage}</td></tr>
 * <tr><td>{@code PoolMigrationCancelMessage}</td><td>{@link CancelMessage}</td></tr>
 * <tr><td>{@code PoolMigrationCopyFinishedMessage}</td><td>{@link CopyFinishedMessage}</td></tr>
 * <tr><td>{@code PoolMigrationJobCancelMessage}</td><td>{@link JobCancelMessage}</td></tr>
 * <tr><td>the reply (a message's return code and error object)</td><td>{@link MessageReply}</td></tr>
 * </table>
 *
 * <p>{@link MigrationMessages} converts them to and from the bytes a
 * {@link org.dcache.migration.CellTransport} carries. Instances are immutable.
 */
public interface MigrationMessage
{
}
