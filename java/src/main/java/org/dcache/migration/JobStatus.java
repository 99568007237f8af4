package org.dcache.migration;

import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * One migration job as data: what {@code migration info} prints, for a REST frontend or a
 * pool's info provider. The targets are a list of pool names ({@link #targets()}), so nothing
 * has to split the {@code Targets} line (which reads {@code pool group g, 5 pools} for a pool
 * group). Immutable; a snapshot taken by {@link MigrationModule#jobs()} or
 * {@link MigrationModule#job(String)}.
 *
 * <p>Beyond what dCache prints, it holds the job's pace ({@link #started()}, the rate over the
 * last minute of active time, {@link #etaMillis()}), the {@link #failures()} of its tasks, and
 * the files it no longer retries ({@link #quarantined()}, after {@code -max-attempts} failures).
 * The rate and ETA depend on the moment the snapshot was taken, so two snapshots of the same job
 * may differ in them alone.
 */
public final class JobStatus
{
    private final String id;
    private final JobState state;
    private final String commandLine;
    private final String summary;
    private final boolean permanent;
    private final int concurrency;
    private final long queued;
    private final long attempts;
    private final long completedFiles;
    private final long transferredBytes;
    private final long totalBytes;
    private final OptionalInt percent;
    private final List<String> targets;
    private final String targetsDescription;
    private final List<RunningTask> runningTasks;
    private final List<Note> notes;
    private final long created;
    private final long failures;
    private final OptionalLong started;
    private final OptionalDouble filesPerSecond;
    private final OptionalDouble bytesPerSecond;
    private final OptionalLong etaMillis;
    private final List<Quarantined> quarantined;

    /** Made by the facade from the module's status; public for tests and bridges. */
    public JobStatus(String id, JobState state, String commandLine, String summary, boolean permanent,
                     int concurrency, long queued, long attempts, long failures, long completedFiles,
                     long transferredBytes, long totalBytes, OptionalInt percent, List<String> targets,
                     String targetsDescription, List<RunningTask> runningTasks, List<Note> notes, long created,
                     OptionalLong started, OptionalDouble filesPerSecond, OptionalDouble bytesPerSecond,
                     OptionalLong etaMillis, List<Quarantined> quarantined)
    {
        if (filesPerSecond.isPresent() != bytesPerSecond.isPresent()) {
            throw new IllegalArgumentException("the rate has both files and bytes per second, or neither");
        }
        this.id = Objects.requireNonNull(id, "id");
        this.state = Objects.requireNonNull(state, "state");
        this.commandLine = Objects.requireNonNull(commandLine, "commandLine");
        this.summary = Objects.requireNonNull(summary, "summary");
        this.permanent = permanent;
        this.concurrency = concurrency;
        this.queued = queued;
        this.attempts = attempts;
        this.completedFiles = completedFiles;
        this.transferredBytes = transferredBytes;
        this.totalBytes = totalBytes;
        this.percent = Objects.requireNonNull(percent, "percent");
        this.targets = List.copyOf(targets);
        this.targetsDescription = Objects.requireNonNull(targetsDescription, "targetsDescription");
        this.runningTasks = List.copyOf(runningTasks);
        this.notes = List.copyOf(notes);
        this.created = created;
        this.failures = failures;
        this.started = Objects.requireNonNull(started, "started");
        this.filesPerSecond = filesPerSecond;
        this.bytesPerSecond = bytesPerSecond;
        this.etaMillis = Objects.requireNonNull(etaMillis, "etaMillis");
        this.quarantined = List.copyOf(quarantined);
    }

    /** The job id ({@code 1}, or the {@code -id} given). */
    public String id()
    {
        return id;
    }

    /** {@code State}. */
    public JobState state()
    {
        return state;
    }

    /** {@code Command}: the command line as recorded. */
    public String commandLine()
    {
        return commandLine;
    }

    /** The job's line in {@code migration ls}. */
    public String summary()
    {
        return summary;
    }

    /** Created with {@code -permanent}. */
    public boolean isPermanent()
    {
        return permanent;
    }

    /** {@code Concurrency}. */
    public int concurrency()
    {
        return concurrency;
    }

    /** {@code Queued}: files waiting for a task. */
    public long queued()
    {
        return queued;
    }

    /** {@code Attempts}: tasks started. */
    public long attempts()
    {
        return attempts;
    }

    /** Tasks that failed (each failed attempt counts; beyond dCache, as in {@code migration metrics}). */
    public long failures()
    {
        return failures;
    }

    /** {@code Completed}: files. */
    public long completedFiles()
    {
        return completedFiles;
    }

    /** {@code Completed}: bytes of the completed files. */
    public long transferredBytes()
    {
        return transferredBytes;
    }

    /** {@code Total}: bytes of every file ever queued. */
    public long totalBytes()
    {
        return totalBytes;
    }

    /** {@code floor(100 × transferred / total)}, empty while nothing was queued. */
    public OptionalInt percent()
    {
        return percent;
    }

    /** The pools the job may copy to now, by name (for a pool group: its members). */
    public List<String> targets()
    {
        return targets;
    }

    /** {@code Targets} as {@code migration info} prints it (e.g. {@code pool group g, 5 pools}). */
    public String targetsDescription()
    {
        return targetsDescription;
    }

    /** {@code Running tasks}. */
    public List<RunningTask> runningTasks()
    {
        return runningTasks;
    }

    /** {@code Most recent notes}, oldest first. */
    public List<Note> notes()
    {
        return notes;
    }

    /**
     * When the job was created, ms since the epoch. The module's times come from the kernel's
     * coarse clock, which may be up to a tick (1–10 ms) behind {@link System#currentTimeMillis()}.
     */
    public long created()
    {
        return created;
    }

    /**
     * When the job started (left {@code NEW}), ms since the epoch; empty for a job that has not
     * started, such as one from the setup file before the pool started.
     */
    public OptionalLong started()
    {
        return started;
    }

    /**
     * Files completed per second over the last minute of the job's active time (time spent
     * {@code SUSPENDED} or {@code PAUSED} does not count); empty before a second of active time.
     * Present exactly when {@link #bytesPerSecond()} is.
     */
    public OptionalDouble filesPerSecond()
    {
        return filesPerSecond;
    }

    /** Bytes of completed files per second, over the same window as {@link #filesPerSecond()}. */
    public OptionalDouble bytesPerSecond()
    {
        return bytesPerSecond;
    }

    /**
     * Milliseconds the queued and running files still need at the current rate; empty for an
     * ended job, one with nothing left, or one that has not completed anything yet.
     */
    public OptionalLong etaMillis()
    {
        return etaMillis;
    }

    /**
     * The files the job no longer retries: each failed {@code -max-attempts} times in a row.
     * {@code migration retry <job>} puts them back in the queue. By PNFS id.
     */
    public List<Quarantined> quarantined()
    {
        return quarantined;
    }

    @Override
    public boolean equals(Object o)
    {
        if (!(o instanceof JobStatus)) {
            return false;
        }
        JobStatus j = (JobStatus) o;
        return j.id.equals(id) && j.state == state && j.commandLine.equals(commandLine) && j.summary.equals(summary)
               && j.permanent == permanent && j.concurrency == concurrency && j.queued == queued
               && j.attempts == attempts && j.completedFiles == completedFiles
               && j.transferredBytes == transferredBytes && j.totalBytes == totalBytes && j.percent.equals(percent)
               && j.targets.equals(targets) && j.targetsDescription.equals(targetsDescription)
               && j.runningTasks.equals(runningTasks) && j.notes.equals(notes) && j.created == created
               && j.failures == failures && j.started.equals(started) && j.filesPerSecond.equals(filesPerSecond)
               && j.bytesPerSecond.equals(bytesPerSecond) && j.etaMillis.equals(etaMillis)
               && j.quarantined.equals(quarantined);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(id, state, commandLine, queued, attempts, completedFiles, transferredBytes, totalBytes,
                            targets, runningTasks, notes, failures, quarantined);
    }

    @Override
    public String toString()
    {
        return summary;
    }

    /** A running task: a line under {@code Running tasks}. */
    public static final class RunningTask
    {
        private final long id;
        private final PnfsId pnfsId;
        private final String state;
        private final String target;

        public RunningTask(long id, PnfsId pnfsId, String state, String target)
        {
            this.id = id;
            this.pnfsId = Objects.requireNonNull(pnfsId, "pnfsId");
            this.state = Objects.requireNonNull(state, "state");
            this.target = target;
        }

        /** The task id. */
        public long id()
        {
            return id;
        }

        /** The file. */
        public PnfsId pnfsId()
        {
            return pnfsId;
        }

        /** {@code Copying}, {@code Pinging}, … (printed as {@code TASK.<state>}). */
        public String state()
        {
            return state;
        }

        /** The current target pool, or null while none is chosen. */
        public String target()
        {
            return target;
        }

        @Override
        public boolean equals(Object o)
        {
            if (!(o instanceof RunningTask)) {
                return false;
            }
            RunningTask t = (RunningTask) o;
            return t.id == id && t.pnfsId.equals(pnfsId) && t.state.equals(state) && Objects.equals(t.target, target);
        }

        @Override
        public int hashCode()
        {
            return Objects.hash(id, pnfsId, state, target);
        }

        @Override
        public String toString()
        {
            return "[" + id + "] " + pnfsId + ": TASK." + state + (target == null ? "" : " -> " + target);
        }
    }

    /** A job note: a line under {@code Most recent notes}. */
    public static final class Note
    {
        private final long time;
        private final long task;
        private final PnfsId pnfsId;
        private final String text;

        public Note(long time, long task, PnfsId pnfsId, String text)
        {
            this.time = time;
            this.task = task;
            this.pnfsId = pnfsId;
            this.text = Objects.requireNonNull(text, "text");
        }

        /** When, ms since the epoch. */
        public long time()
        {
            return time;
        }

        /** The task, 0 for a note about the job. */
        public long task()
        {
            return task;
        }

        /** The file, or null. */
        public PnfsId pnfsId()
        {
            return pnfsId;
        }

        public String text()
        {
            return text;
        }

        @Override
        public boolean equals(Object o)
        {
            if (!(o instanceof Note)) {
                return false;
            }
            Note n = (Note) o;
            return n.time == time && n.task == task && Objects.equals(n.pnfsId, pnfsId) && n.text.equals(text);
        }

        @Override
        public int hashCode()
        {
            return Objects.hash(time, task, pnfsId, text);
        }

        @Override
        public String toString()
        {
            return "[" + task + "] " + (pnfsId == null ? "-" : pnfsId) + ": " + text;
        }
    }

    /** A quarantined file: a line under {@code Quarantined} in {@code migration info}. */
    public static final class Quarantined
    {
        private final PnfsId pnfsId;
        private final long size;
        private final int attempts;
        private final int returnCode;
        private final String error;

        public Quarantined(PnfsId pnfsId, long size, int attempts, int returnCode, String error)
        {
            this.pnfsId = Objects.requireNonNull(pnfsId, "pnfsId");
            this.size = size;
            this.attempts = attempts;
            this.returnCode = returnCode;
            this.error = Objects.requireNonNull(error, "error");
        }

        /** The file. */
        public PnfsId pnfsId()
        {
            return pnfsId;
        }

        /** Its size in bytes, as queued. */
        public long size()
        {
            return size;
        }

        /** Attempts that failed in a row. */
        public int attempts()
        {
            return attempts;
        }

        /** dCache's return code of the last failure (e.g. 104 for {@code Pool is disabled}). */
        public int returnCode()
        {
            return returnCode;
        }

        /** The last failure's message. */
        public String error()
        {
            return error;
        }

        @Override
        public boolean equals(Object o)
        {
            if (!(o instanceof Quarantined)) {
                return false;
            }
            Quarantined q = (Quarantined) o;
            return q.pnfsId.equals(pnfsId) && q.size == size && q.attempts == attempts
                   && q.returnCode == returnCode && q.error.equals(error);
        }

        @Override
        public int hashCode()
        {
            return Objects.hash(pnfsId, size, attempts, returnCode, error);
        }

        @Override
        public String toString()
        {
            return pnfsId + ": " + attempts + " attempts, last: " + error + " (rc=" + returnCode + ")";
        }
    }
}
