package org.dcache.migration;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

import org.dcache.migration.messages.MigrationMessage;

/**
 * Small stand-ins for the dCache 12 interfaces a pool cell implements, named after dCache's so
 * that {@link ReferencePoolCell} reads like real dCache wiring. Each keeps only what the cell
 * needs; where dCache finds methods by reflection or annotation (message receivers, admin
 * commands), the stand-in names them.
 */
final class CellStandIns
{
    private CellStandIns()
    {
    }

    /** dCache's {@code CellLifeCycleAware}: called once the cell's setup ran, and before it stops. */
    interface CellLifeCycleAware
    {
        default void afterStart()
        {
        }

        default void beforeStop()
        {
        }
    }

    /**
     * dCache's {@code CellSetupProvider}: prints its part of the setup ({@code save}), and is
     * told when a setup starts and ends ({@code reload}). Between the two, the setup's lines run
     * as admin commands. dCache first runs a setup on {@link #mock()}s, without side effects,
     * and applies it only when that succeeded.
     */
    interface CellSetupProvider
    {
        default void printSetup(PrintWriter pw)
        {
        }

        default void beforeSetup()
        {
        }

        default void afterSetup()
        {
        }

        /** A side-effect-free copy that checks a setup; it throws from {@code afterSetup} to refuse it. */
        default CellSetupProvider mock()
        {
            return new CellSetupProvider() { };
        }
    }

    /** One admin command: its help page and its body (dCache: an {@code @Command} class). */
    interface Command
    {
        String help();

        /** Executes the whole command line; errors are thrown. */
        String execute(String line);
    }

    /** dCache's {@code CellCommandListener}: a component whose commands the cell's shell offers. */
    interface CellCommandListener
    {
        /** The commands by name ({@code migration copy}, …). */
        Map<String, Command> commands();
    }

    /** dCache's {@code CellAddressCore}: {@code cell@domain}. */
    static final class CellAddress
    {
        private final String cell;
        private final String domain;

        CellAddress(String address)
        {
            int at = address.indexOf('@');
            this.cell = at < 0 ? address : address.substring(0, at);
            this.domain = at < 0 ? "local" : address.substring(at + 1);
        }

        String getCellName()
        {
            return cell;
        }

        @Override
        public String toString()
        {
            return cell + "@" + domain;
        }
    }

    /** dCache's {@code CellMessage}: the sender, the payload, and the way back for a reply. */
    static final class CellMessage
    {
        private final CellAddress source;
        private final Object payload;
        private final Consumer<Object> replyPath;

        CellMessage(CellAddress source, Object payload, Consumer<Object> replyPath)
        {
            this.source = Objects.requireNonNull(source);
            this.payload = payload;
            this.replyPath = replyPath;
        }

        CellAddress getSourceAddress()
        {
            return source;
        }

        Object getMessageObject()
        {
            return payload;
        }

        /** Whether the sender waits for a reply (false for one-way messages). */
        boolean expectsReply()
        {
            return replyPath != null;
        }

        /** Sends {@code answer} back (dCache: {@code revertDirection()} and send). */
        void reply(Object answer)
        {
            replyPath.accept(answer);
        }
    }

    /** dCache's {@code CellMessageReceiver}: here for the module's messages only. */
    interface CellMessageReceiver
    {
        void messageArrived(CellMessage envelope, MigrationMessage message);
    }

    /** dCache's {@code NoRouteToCellException}. */
    static final class NoRouteToCellException extends Exception
    {
        private static final long serialVersionUID = 1L;

        NoRouteToCellException(String destination)
        {
            super("No route to " + destination);
        }
    }

    /** dCache's {@code CellMessageAnswerable}: how an answer to a sent message arrives. */
    interface CellMessageAnswerable
    {
        void answerArrived(Object answer);

        void exceptionArrived(Exception e);

        void answerTimedOut();
    }

    /** dCache's {@code CellEndpoint}: sends messages; {@code callback} is null for one-way ones. */
    interface CellEndpoint
    {
        void sendMessage(String destination, Object message, CellMessageAnswerable callback);
    }

    /** dCache's {@code CellInfoProvider}: the cell's {@code info} output. */
    interface CellInfoProvider
    {
        default void getInfo(PrintWriter pw)
        {
        }
    }

    /** dCache's {@code PoolDataBeanProvider}: what the pool's REST resource serialises. */
    interface PoolDataBeanProvider<T>
    {
        T getDataObject();
    }

    /** dCache's {@code MigrationData} bean, rebuilt on our typed status. */
    static final class MigrationData
    {
        final String label;
        final List<String> jobInfo;
        final List<JobStatus> jobs;

        MigrationData(String label, List<String> jobInfo, List<JobStatus> jobs)
        {
            this.label = label;
            this.jobInfo = List.copyOf(jobInfo);
            this.jobs = List.copyOf(jobs);
        }
    }

    /** dCache's {@code ProtocolInfo} of a read, with the client's host ({@code IpProtocolInfo}). */
    static final class ProtocolInfo
    {
        final String protocol;
        final int major;
        final int minor;
        final String clientHost;

        ProtocolInfo(String protocol, int major, int minor, String clientHost)
        {
            this.protocol = protocol;
            this.major = major;
            this.minor = minor;
            this.clientHost = clientHost;
        }

        String getProtocol()
        {
            return protocol;
        }

        int getMajorVersion()
        {
            return major;
        }

        int getMinorVersion()
        {
            return minor;
        }
    }

    /** dCache's {@code FileRequestMonitor}: the pool reports each read with its reader count. */
    interface FileRequestMonitor
    {
        void reportFileRequest(PnfsId pnfsId, long numberOfRequests, ProtocolInfo protocolInfo);
    }

    /** dCache's {@code PoolV2Mode}, reduced to the bits the module asks about. */
    static final class PoolV2Mode
    {
        static final int ENABLED = 0;
        static final int DISABLED_P2P_CLIENT = 0x08;
        static final int DISABLED_RDONLY = 0x40 | DISABLED_P2P_CLIENT;

        private volatile int mode;

        void setMode(int mode)
        {
            this.mode = mode;
        }

        boolean isDisabled(int bits)
        {
            return (mode & bits) == bits;
        }
    }
}
