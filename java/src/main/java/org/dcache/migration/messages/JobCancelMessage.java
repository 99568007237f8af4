package org.dcache.migration.messages;

import java.util.Objects;

/**
 * Cancels a migration job, as QoS, resilience and the Rebalancer do (dCache's
 * {@code PoolMigrationJobCancelMessage}). The reply comes once the job has ended; a job id the
 * pool does not know is answered with success at once.
 */
public final class JobCancelMessage implements MigrationMessage
{
    private final String jobId;
    private final boolean forced;
    private final String reason;

    /**
     * @param forced also abort the running transfers instead of waiting for them
     * @param reason why, noted in the job
     */
    public JobCancelMessage(String jobId, boolean forced, String reason)
    {
        this.jobId = Objects.requireNonNull(jobId, "jobId");
        this.forced = forced;
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public String getJobId()
    {
        return jobId;
    }

    /** Also abort the running transfers. */
    public boolean isForced()
    {
        return forced;
    }

    public String getReason()
    {
        return reason;
    }

    @Override
    public boolean equals(Object o)
    {
        if (!(o instanceof JobCancelMessage)) {
            return false;
        }
        JobCancelMessage m = (JobCancelMessage) o;
        return m.jobId.equals(jobId) && m.forced == forced && m.reason.equals(reason);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(jobId, forced, reason);
    }

    @Override
    public String toString()
    {
        return "JobCancelMessage[jobId=" + jobId + ", forced=" + forced + ", reason=" + reason + "]";
    }
}
