package org.dcache.migration;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.dcache.migration.CellStandIns.CellAddress;
import org.dcache.migration.CellStandIns.CellCommandListener;
import org.dcache.migration.CellStandIns.CellEndpoint;
import org.dcache.migration.CellStandIns.CellLifeCycleAware;
import org.dcache.migration.CellStandIns.CellMessage;
import org.dcache.migration.CellStandIns.CellMessageAnswerable;
import org.dcache.migration.CellStandIns.CellMessageReceiver;
import org.dcache.migration.CellStandIns.CellSetupProvider;
import org.dcache.migration.CellStandIns.Command;
import org.dcache.migration.CellStandIns.NoRouteToCellException;
import org.dcache.migration.messages.MessageReply;
import org.dcache.migration.messages.MigrationMessage;

/**
 * dCache's side of {@link ReferencePoolCell} in the tests: cells by name, the message network
 * between them (through a thread pool, as cell messages travel), each cell's admin shell, and
 * the setup procedure ({@code reload}): validate on the mocks, then apply. Services that are
 * not cells here (QoS) are mailboxes that keep what they receive.
 */
final class CellDomain implements AutoCloseable
{
    private final Map<String, Object> cells = new ConcurrentHashMap<>();
    final Map<String, List<Object>> mailboxes = new ConcurrentHashMap<>();
    /** Every message carried between cells and services, in order. */
    final List<Object> carried = new CopyOnWriteArrayList<>();
    private final ExecutorService network = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "cell-domain");
        t.setDaemon(true);
        return t;
    });

    /** The endpoint through which cell {@code name} sends. */
    CellEndpoint endpoint(String name)
    {
        return (destination, message, callback) -> route(new CellAddress(name + "@" + name + "Domain"), destination,
                                                         message, callback);
    }

    private void route(CellAddress source, String destination, Object message, CellMessageAnswerable callback)
    {
        carried.add(message);
        network.execute(() -> {
            Object cell = cells.get(new CellAddress(destination).getCellName());
            List<Object> mailbox = mailboxes.get(destination);
            try {
                if (cell instanceof CellMessageReceiver) {
                    CellMessage envelope = new CellMessage(source, message, callback == null ? null
                            : answer -> network.execute(() -> callback.answerArrived(answer)));
                    ((CellMessageReceiver) cell).messageArrived(envelope, (MigrationMessage) message);
                } else if (mailbox != null) {
                    mailbox.add(message);
                    if (callback != null) {
                        callback.answerArrived(MessageReply.OK);
                    }
                } else if (callback != null) {
                    callback.exceptionArrived(new NoRouteToCellException(destination));
                }
            } catch (MigrationException e) { // the cell is stopping
                if (callback != null) {
                    callback.exceptionArrived(new NoRouteToCellException(destination));
                }
            }
        });
    }

    /** A message from a service that is not a cell of this domain; completes with the answer. */
    CompletableFuture<Object> send(String from, String destination, MigrationMessage message)
    {
        CompletableFuture<Object> answer = new CompletableFuture<>();
        route(new CellAddress(from), destination, message, new CellMessageAnswerable()
        {
            @Override
            public void answerArrived(Object reply)
            {
                answer.complete(reply);
            }

            @Override
            public void exceptionArrived(Exception e)
            {
                answer.complete(e);
            }

            @Override
            public void answerTimedOut()
            {
                answer.complete("timeout");
            }
        });
        return answer;
    }

    /** Starts a cell: its setup first (as dCache runs the setup file), then {@code afterStart}. */
    <T extends CellLifeCycleAware & CellSetupProvider & CellCommandListener> T start(String name, T cell,
                                                                                     List<String> setup)
    {
        add(name, cell);
        reload(name, setup);
        cell.afterStart();
        return cell;
    }

    /** Makes a cell reachable without starting it (the steps of {@link #start} one by one). */
    void add(String name, Object cell)
    {
        cells.put(name, cell);
    }

    void stop(String name)
    {
        Object cell = cells.remove(name);
        if (cell instanceof CellLifeCycleAware) {
            ((CellLifeCycleAware) cell).beforeStop();
        }
    }

    /**
     * The admin shell: runs {@code line} on cell {@code name}'s command with the longest name
     * that starts the line.
     */
    String command(String name, String line)
    {
        return command((CellCommandListener) cells.get(name), line);
    }

    private static String command(CellCommandListener listener, String line)
    {
        Command best = null;
        int length = -1;
        for (Map.Entry<String, Command> c : listener.commands().entrySet()) {
            String n = c.getKey();
            if ((line.equals(n) || line.startsWith(n + " ")) && n.length() > length) {
                best = c.getValue();
                length = n.length();
            }
        }
        if (best == null) {
            throw new IllegalArgumentException("Command not found: " + line);
        }
        return best.execute(line);
    }

    /** The help of a command, as the shell shows it. */
    String help(String name, String command)
    {
        Command c = ((CellCommandListener) cells.get(name)).commands().get(command);
        if (c == null) {
            throw new IllegalArgumentException("Command not found: " + command);
        }
        return c.help();
    }

    /** {@code save}: the cell's setup. */
    List<String> save(String name)
    {
        StringWriter text = new StringWriter();
        try (PrintWriter pw = new PrintWriter(text)) {
            ((CellSetupProvider) cells.get(name)).printSetup(pw);
        }
        List<String> lines = new ArrayList<>();
        for (String line : text.toString().split("\n")) {
            if (!line.isEmpty()) {
                lines.add(line);
            }
        }
        return lines;
    }

    /** {@code info}: the cell's info output. */
    String info(String name)
    {
        StringWriter text = new StringWriter();
        try (PrintWriter pw = new PrintWriter(text)) {
            ((CellStandIns.CellInfoProvider) cells.get(name)).getInfo(pw);
        }
        return text.toString();
    }

    /**
     * {@code reload}: the setup runs on the cell's mock first; only if that succeeds does it
     * run on the cell itself. Comments and blank lines are skipped.
     */
    void reload(String name, List<String> setup)
    {
        CellSetupProvider cell = (CellSetupProvider) cells.get(name);
        run(cell.mock(), setup);
        run(cell, setup);
    }

    private static void run(CellSetupProvider provider, List<String> setup)
    {
        provider.beforeSetup();
        for (String line : setup) {
            if (!line.isBlank() && !line.startsWith("#")) {
                command((CellCommandListener) provider, line);
            }
        }
        provider.afterSetup();
    }

    @Override
    public void close()
    {
        for (String name : List.copyOf(cells.keySet())) {
            stop(name);
        }
        network.shutdownNow();
    }
}
