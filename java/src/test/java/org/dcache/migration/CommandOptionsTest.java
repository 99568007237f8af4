package org.dcache.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The commands' options and arguments as data, for a pool that registers each command with
 * typed options in its {@code CommandInterpreter} instead of one catch-all handler.
 */
class CommandOptionsTest
{
    private static final Set<String> CATEGORIES =
            Set.of("", "Filter options", "Transfer options", "Target options", "Lifetime options");

    private TestCluster cluster;
    private MigrationCommands commands;

    @BeforeEach
    void setUp()
    {
        cluster = new TestCluster();
        cluster.pool("pool1");
        cluster.pool("pool2");
        cluster.start();
        commands = cluster.cells.get("pool1").module.commands();
    }

    @AfterEach
    void tearDown()
    {
        cluster.close();
    }

    private CommandOption option(String command, String name)
    {
        return commands.options(command).stream().filter(o -> o.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no -" + name + " in " + commands.options(command)));
    }

    @Test
    void migrationCopyOptionsCarryDCachesCategoriesAndValueSyntax()
    {
        CommandOption accessed = option("migration copy", "accessed");
        assertEquals("Filter options", accessed.category());
        assertEquals("=<n>|[<n>]..[<m>]", accessed.valueSyntax());
        assertEquals(CommandOption.Type.STRING, accessed.type());
        assertTrue(accessed.takesValue());
        assertEquals("-accessed=<n>|[<n>]..[<m>]", accessed.toString());

        CommandOption permanent = option("migration copy", "permanent");
        assertEquals("Lifetime options", permanent.category());
        assertEquals(CommandOption.Type.FLAG, permanent.type());
        assertFalse(permanent.takesValue());
        assertEquals("", permanent.valueSyntax());

        assertEquals("Transfer options", option("migration copy", "verify").category());
        assertEquals("Target options", option("migration copy", "target").category());
        CommandOption id = option("migration copy", "id");
        assertEquals("", id.category());
        assertEquals("=<id>", id.valueSyntax());
        assertTrue(id.help().contains("job id"), id.help());
    }

    @Test
    void optionsAreTypedAndEnumerationsListTheirValues()
    {
        CommandOption pins = option("migration move", "pins");
        assertEquals(CommandOption.Type.ENUM, pins.type());
        assertEquals(List.of("keep", "move"), pins.values());
        assertEquals("=keep|move", pins.valueSyntax());
        assertEquals("=wait|limit", option("migration cache", "target-deficit-mode").valueSyntax());
        assertEquals(CommandOption.Type.LIST, option("migration copy", "pnfsid").type());
        assertEquals(CommandOption.Type.INT, option("migration copy", "concurrency").type());
        assertEquals(CommandOption.Type.INT, option("migration copy", "refresh").type(), "an int, as in dCache");
        assertEquals(List.of(), option("migration copy", "accessed").values());
        assertEquals(CommandOption.Type.FLAG, option("migration info", "json").type());
        // copy, move and cache share their options.
        assertEquals(commands.options("migration copy"), commands.options("migration move"));
        assertEquals(commands.options("migration copy"), commands.options("migration cache"));
    }

    /** The {@code OPTIONS} section of a help page: each option's line and the category above it. */
    private static Map<String, String> helpCategories(String help)
    {
        Map<String, String> categories = new LinkedHashMap<>();
        String category = "";
        boolean options = false;
        for (String line : help.split("\n")) {
            if (line.equals("OPTIONS")) {
                options = true;
            } else if (options && line.startsWith("  ") && !line.startsWith("   ") && line.endsWith(":")) {
                category = line.trim().substring(0, line.trim().length() - 1);
            } else if (options && line.startsWith("  -")) {
                categories.put(line.substring(2), category);
            }
        }
        return categories;
    }

    @Test
    void everyOptionAppearsOnTheHelpPageWithItsSyntaxUnderItsCategory()
    {
        for (String name : commands.names()) {
            List<CommandOption> options = commands.options(name);
            Map<String, String> page = helpCategories(commands.help(name));
            Map<String, String> listed = new LinkedHashMap<>();
            for (CommandOption o : options) {
                assertTrue(CATEGORIES.contains(o.category()), name + ": " + o.category());
                assertEquals(o.type() != CommandOption.Type.FLAG, o.takesValue(), o.toString());
                assertEquals(o.takesValue(), !o.valueSyntax().isEmpty(), o.toString());
                listed.put(o.toString(), o.category());
            }
            assertEquals(new TreeMap<>(page), new TreeMap<>(listed), name);
        }
        Set<String> copyCategories = new TreeSet<>();
        commands.options("migration copy").forEach(o -> copyCategories.add(o.category()));
        assertEquals(CATEGORIES, copyCategories);
    }

    @Test
    void argumentsSayWhichAreRequiredAndWhichRepeat()
    {
        List<CommandArgument> copy = commands.arguments("migration copy");
        assertEquals(List.of(new CommandArgument(0, "TARGET", false, true)), copy);
        assertEquals("[TARGET]...", copy.get(0).toString());
        assertEquals(List.of(new CommandArgument(0, "JOB", true, false)), commands.arguments("migration info"));
        assertEquals(List.of(new CommandArgument(0, "JOB", true, false), new CommandArgument(1, "CONCURRENCY", true,
                                                                                                 false)),
                     commands.arguments("migration set concurrency"));
        assertEquals(List.of(), commands.arguments("migration ls"));
        assertEquals(List.of(), commands.options("hotfile show"));
        assertEquals("Copy replicas to other pools.", commands.summary("migration copy"));
        for (String name : commands.names()) {
            List<String> synopsis = new ArrayList<>();
            for (CommandArgument a : commands.arguments(name)) {
                synopsis.add(a.toString());
            }
            String page = commands.help(name);
            String expected = name + (commands.options(name).isEmpty() ? "" : " [OPTIONS]")
                              + (synopsis.isEmpty() ? "" : " " + String.join(" ", synopsis));
            assertTrue(page.contains("SYNOPSIS\n       " + expected + "\n"), expected + " in\n" + page);
            assertFalse(commands.summary(name).isEmpty(), name);
        }
    }

    @Test
    void anUnknownCommandIsNotFound()
    {
        for (String unknown : List.of("migration bogus", "migration", "migration copy pool2")) {
            MigrationException e = assertThrows(MigrationException.class, () -> commands.options(unknown), unknown);
            assertEquals(MigrationException.NOT_FOUND, e.code(), unknown);
            assertEquals("No such command: " + unknown, e.getMessage());
            assertEquals(MigrationException.NOT_FOUND,
                         assertThrows(MigrationException.class, () -> commands.arguments(unknown)).code());
        }
        assertEquals(MigrationException.INVALID_ARGUMENT,
                     assertThrows(MigrationException.class, () -> commands.options(" ")).code());
        // Spaces as the help command accepts them.
        assertEquals(commands.options("migration copy"), commands.options("  migration   copy "));
        assertThrows(NullPointerException.class, () -> commands.options(null));
    }

    @Test
    void aShellWithTypedOptionsRebuildsALineTheModuleAccepts()
    {
        // What an annotated command does: its fields hold the values, and it rebuilds the line.
        Map<String, String> given = new LinkedHashMap<>();
        given.put("accessed", "..600");
        given.put("permanent", null);
        given.put("pins", "keep");
        given.put("id", "typed");
        StringBuilder line = new StringBuilder("migration copy");
        for (Map.Entry<String, String> e : given.entrySet()) {
            CommandOption o = option("migration copy", e.getKey());
            line.append(" -").append(o.name());
            if (o.takesValue()) {
                line.append('=').append(e.getValue());
            }
        }
        line.append(" pool2");

        String summary = commands.execute(line.toString());
        assertTrue(summary.startsWith("[typed]"), summary);
        JobStatus job = cluster.cells.get("pool1").module.job("typed");
        assertTrue(job.isPermanent());
        assertTrue(job.commandLine().contains("-accessed=..600"), job.commandLine());
    }
}
