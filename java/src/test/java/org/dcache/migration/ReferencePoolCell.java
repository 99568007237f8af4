package org.dcache.migration;

// Glue: 151 lines. Counted as every line of this file that is neither blank nor only a
// comment (a line starting with //, /*, * or */), from `final class ReferencePoolCell` up to the
// marker "Type-conversion adapters" (not counted: imports, this header, the adapters below the
// marker, which only translate between dCache's types and the facade's). The count comes from
//   awk '/^final class ReferencePoolCell/{on=1} /Type-conversion adapters/{on=0}
//        on && !/^[ \t]*$/ && !/^[ \t]*(\/\/|\/\*|\*)/' ReferencePoolCell.java | wc -l
// run in java/src/test/java/org/dcache/migration. By the same rule the whole file, package,
// imports and adapters included, has 299 lines.

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.dcache.migration.CellStandIns.CellCommandListener;
import org.dcache.migration.CellStandIns.CellEndpoint;
import org.dcache.migration.CellStandIns.CellInfoProvider;
import org.dcache.migration.CellStandIns.CellLifeCycleAware;
import org.dcache.migration.CellStandIns.CellMessage;
import org.dcache.migration.CellStandIns.CellMessageAnswerable;
import org.dcache.migration.CellStandIns.CellMessageReceiver;
import org.dcache.migration.CellStandIns.CellSetupProvider;
import org.dcache.migration.CellStandIns.Command;
import org.dcache.migration.CellStandIns.FileRequestMonitor;
import org.dcache.migration.CellStandIns.MigrationData;
import org.dcache.migration.CellStandIns.NoRouteToCellException;
import org.dcache.migration.CellStandIns.PoolDataBeanProvider;
import org.dcache.migration.CellStandIns.PoolV2Mode;
import org.dcache.migration.CellStandIns.ProtocolInfo;
import org.dcache.migration.messages.MessageReply;
import org.dcache.migration.messages.MigrationMessage;
import org.dcache.migration.messages.MigrationMessages;

/**
 * The migration module wired into a pool cell the way dCache 12 wires its own: the reference
 * for docs/java.md. The pool creates the cell with its services; the cell creates the module
 * at once (as Spring creates dCache's beans), so the setup can run before {@link #afterStart()}
 * and the jobs it creates wait, in state {@code NEW}, until the pool has started.
 *
 * <ul>
 * <li>{@link CellLifeCycleAware}: {@code afterStart} reports the pool started,
 * {@code beforeStop} closes the module.
 * <li>{@link CellSetupProvider}: {@code printSetup} writes the module's setup lines; a
 * {@code reload} collects the {@code migration} lines between {@code beforeSetup} and
 * {@code afterSetup}; the {@link #mock()} validates them first, so an invalid setup is refused
 * before anything changes.
 * <li>{@link CellCommandListener}: every admin command of {@link MigrationCommands}, by name.
 * <li>{@link CellMessageReceiver}: the typed messages of other pools and services.
 * <li>{@link CellInfoProvider} and {@link PoolDataBeanProvider}: the jobs, from the typed status.
 * <li>{@link FileRequestMonitor}: reads, for hot-file replication.
 * <li>The pool's repository and mode through {@link RepositoryAdapter}, including a repository
 * still loading at start ({@link #repositoryLoaded()}).
 * </ul>
 *
 * <p>The pool manager, namespace, p2p client and pin manager arrive as facade services: in
 * dCache each is a {@code CellStub} in a type-conversion adapter (see docs/java.md).
 */
final class ReferencePoolCell implements CellLifeCycleAware, CellSetupProvider, CellCommandListener,
        CellMessageReceiver, CellInfoProvider, PoolDataBeanProvider<MigrationData>, FileRequestMonitor
{
    private final MigrationModule module;
    private final MigrationCommands commands;
    private final CellEndpoint endpoint;
    /** The {@code migration} lines of a setup being applied; null outside a setup. */
    private List<String> setup;

    ReferencePoolCell(String poolName, MemoryRepository repository, PoolV2Mode poolMode, CellEndpoint endpoint,
                      PoolManager poolManager, PnfsManager pnfsManager, P2pClient p2pClient, PinManager pinManager)
    {
        this.endpoint = endpoint;
        this.module = MigrationModule.builder(poolName)
                .repository(new RepositoryAdapter(repository, poolMode))
                .poolManager(poolManager)
                .pnfsManager(pnfsManager)
                .transport(this::send)
                .p2pClient(p2pClient)
                .pinManager(pinManager)
                .start();
        this.commands = module.commands();
        // Also while the repository loads: each replica loaded is reported as an event.
        repository.addListener(event -> {
            if (!module.isClosed()) {
                module.repositoryEvent(event);
            }
        });
    }

    /** For the tests: the module behind the cell. */
    MigrationModule module()
    {
        return module;
    }

    // ── CellLifeCycleAware ────────────────────────────────────────────────────────────────

    @Override
    public void afterStart()
    {
        module.poolStarted();
    }

    @Override
    public void beforeStop()
    {
        module.close();
    }

    /** The pool's {@code ReplicaRepository.load()} returned: jobs waiting for it scan now. */
    void repositoryLoaded()
    {
        module.repositoryLoaded();
    }

    // ── CellSetupProvider ─────────────────────────────────────────────────────────────────

    @Override
    public void printSetup(PrintWriter pw)
    {
        module.setupLines().forEach(pw::println);
    }

    @Override
    public synchronized void beforeSetup()
    {
        setup = new ArrayList<>();
    }

    @Override
    public synchronized void afterSetup()
    {
        List<String> lines = setup;
        setup = null;
        // The mock validated these lines: reload cancels the permanent jobs and runs them.
        List<String> errors = module.reload(lines);
        if (!errors.isEmpty()) {
            throw new IllegalStateException("setup partially applied: " + errors);
        }
    }

    /** Collects the setup's lines and refuses them in {@code afterSetup} when one is invalid. */
    @Override
    public CellSetupProvider mock()
    {
        return new SetupCheck();
    }

    private synchronized boolean collect(String line)
    {
        if (setup == null) {
            return false;
        }
        setup.add(line);
        return true;
    }

    private final class SetupCheck implements CellSetupProvider, CellCommandListener
    {
        private final List<String> lines = new ArrayList<>();

        @Override
        public Map<String, Command> commands()
        {
            return commandsDoing(line -> {
                lines.add(line);
                return "";
            });
        }

        @Override
        public void afterSetup()
        {
            List<String> errors = module.validate(lines);
            if (!errors.isEmpty()) {
                throw new IllegalArgumentException("Invalid migration setup:\n" + String.join("\n", errors));
            }
        }
    }

    // ── CellCommandListener ───────────────────────────────────────────────────────────────

    @Override
    public Map<String, Command> commands()
    {
        return commandsDoing(line -> collect(line) ? "" : commands.execute(line));
    }

    private Map<String, Command> commandsDoing(Function<String, String> body)
    {
        Map<String, Command> map = new LinkedHashMap<>();
        for (String name : commands.names()) {
            String help = commands.help(name);
            map.put(name, new Command()
            {
                @Override
                public String help()
                {
                    return help;
                }

                @Override
                public String execute(String line)
                {
                    return body.apply(line);
                }
            });
        }
        return map;
    }

    // ── CellMessageReceiver ───────────────────────────────────────────────────────────────

    @Override
    public void messageArrived(CellMessage envelope, MigrationMessage message)
    {
        // The cell name, not the whole address: it names the peer pool to the module, and it
        // is where the module sends what follows (a CopyFinishedMessage to a QoS requester).
        String from = envelope.getSourceAddress().getCellName();
        try {
            module.deliver(from, message, envelope.expectsReply() ? new ReplyTo(envelope) : null);
        } catch (MigrationException e) {
            // Refused (the cell is stopping): deliver has failed the reply already, and a
            // second answer must not follow. docs/java.md logs it here.
        }
    }

    // ── CellInfoProvider, PoolDataBeanProvider ────────────────────────────────────────────

    @Override
    public void getInfo(PrintWriter pw)
    {
        List<JobStatus> jobs = module.jobs();
        pw.println("Migration jobs: " + jobs.size());
        for (JobStatus job : jobs) {
            pw.println("  " + job.summary());
        }
    }

    @Override
    public MigrationData getDataObject()
    {
        List<JobStatus> jobs = module.jobs();
        return new MigrationData("Migration", jobs.stream().map(JobStatus::summary).collect(Collectors.toList()),
                                 jobs);
    }

    // ── FileRequestMonitor ────────────────────────────────────────────────────────────────

    @Override
    public void reportFileRequest(PnfsId pnfsId, long numberOfRequests, ProtocolInfo info)
    {
        module.reportReaders(pnfsId, numberOfRequests, info.getProtocol(), info.getMajorVersion(),
                             info.getMinorVersion(), info.clientHost);
    }

    // ── Type-conversion adapters ──────────────────────────────────────────────────────────

    /** The module's outgoing messages as cell messages; the answer back as bytes. */
    private void send(String destination, byte[] bytes, Completion<byte[]> reply)
    {
        endpoint.sendMessage(destination, MigrationMessages.decode(bytes), reply == null ? null : new CellMessageAnswerable()
        {
            @Override
            public void answerArrived(Object answer)
            {
                reply.complete(MigrationMessages.encodeReply((MessageReply) answer));
            }

            @Override
            public void exceptionArrived(Exception e)
            {
                if (e instanceof NoRouteToCellException) {
                    reply.noRoute();
                } else {
                    reply.fail(e);
                }
            }

            @Override
            public void answerTimedOut()
            {
                reply.timeout();
            }
        });
    }

    /** The module's answer to a message, sent back along the envelope. */
    private static final class ReplyTo implements Completion<MessageReply>
    {
        private final CellMessage envelope;

        ReplyTo(CellMessage envelope)
        {
            this.envelope = envelope;
        }

        @Override
        public void complete(MessageReply reply)
        {
            envelope.reply(reply);
        }

        @Override
        public void fail(int returnCode, String message)
        {
            envelope.reply(new MessageReply(returnCode, message));
        }

        @Override
        public void timeout()
        {
            envelope.reply(new MessageReply(ServiceException.TIMEOUT, "timeout"));
        }

        @Override
        public void noRoute()
        {
            envelope.reply(new MessageReply(ServiceException.SERVICE_UNAVAILABLE, "no route"));
        }
    }

    /**
     * The pool's repository (here {@link MemoryRepository}, in dCache its
     * {@code ReplicaRepository} and {@code ChecksumModule}) and mode, as the module sees them.
     */
    private static final class RepositoryAdapter implements Repository
    {
        private final MemoryRepository repository;
        private final PoolV2Mode poolMode;

        RepositoryAdapter(MemoryRepository repository, PoolV2Mode poolMode)
        {
            this.repository = repository;
            this.poolMode = poolMode;
        }

        @Override
        public Iterator<ReplicaEntry> entries()
        {
            Iterator<ReplicaEntry> entries;
            try {
                entries = repository.entries();
            } catch (IllegalStateException e) { // dCache: the repository is still loading
                throw new RepositoryNotLoadedException(e.getMessage(), e);
            }
            return new Iterator<ReplicaEntry>()
            {
                @Override
                public boolean hasNext()
                {
                    try {
                        return entries.hasNext();
                    } catch (IllegalStateException e) {
                        throw new RepositoryNotLoadedException(e.getMessage(), e);
                    }
                }

                @Override
                public ReplicaEntry next()
                {
                    return entries.next();
                }
            };
        }

        @Override
        public ReplicaEntry getEntry(PnfsId id)
        {
            return repository.getEntry(id);
        }

        @Override
        public void setState(PnfsId id, ReplicaState state, String reason) throws RepositoryException
        {
            repository.setState(id, state, reason);
        }

        @Override
        public boolean removeIfUnchanged(PnfsId id, ReplicaState state, List<StickyRecord> sticky, String reason)
                throws RepositoryException
        {
            return repository.removeIfUnchanged(id, state, sticky, reason);
        }

        @Override
        public boolean setStateIfUnchanged(PnfsId id, ReplicaState seen, ReplicaState state, String reason)
                throws RepositoryException
        {
            return repository.setStateIfUnchanged(id, seen, state, reason);
        }

        @Override
        public void setSticky(PnfsId id, String owner, long expire, boolean overwrite) throws RepositoryException
        {
            repository.setSticky(id, owner, expire, overwrite);
        }

        @Override
        public boolean verifiesChecksums()
        {
            return true; // the pool's ChecksumModule does
        }

        @Override
        public void verifyChecksum(PnfsId id) throws ServiceException
        {
            repository.verifyChecksum(id);
        }

        @Override
        public boolean acceptsCopies()
        {
            return !poolMode.isDisabled(PoolV2Mode.DISABLED_P2P_CLIENT);
        }
    }
}
