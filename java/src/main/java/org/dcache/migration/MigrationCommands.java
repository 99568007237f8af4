package org.dcache.migration;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

import org.dcache.migration.internal.NativeLibrary;
import org.dcache.migration.internal.Natives;

/**
 * What a pool cell needs to offer the module's admin commands in its shell: the command names
 * ({@code migration copy}, {@code migration info}, …), each command's help text, and
 * {@link #execute(String)}. A cell registers each name with its help and hands every matching
 * line to {@code execute}.
 */
public final class MigrationCommands
{
    private final MigrationModule module;

    MigrationCommands(MigrationModule module)
    {
        this.module = Objects.requireNonNull(module, "module");
    }

    /** Every command's name, e.g. {@code migration copy}. */
    public List<String> names()
    {
        NativeLibrary.load();
        return Arrays.asList(Natives.commandNames().split("\n"));
    }

    /** The help page of a command, or the list of commands for an empty name. */
    public String help(String command)
    {
        NativeLibrary.load();
        return Natives.help(Objects.requireNonNull(command, "command"));
    }

    /**
     * Executes a command line and returns its output, as the admin shell shows it.
     *
     * @throws MigrationException on failure; a malformed command's message reads
     *         {@code Syntax error: <message>}, as dCache's shell prints it
     */
    public String execute(String line)
    {
        try {
            return module.execute(line);
        } catch (MigrationException e) {
            if (e.code() == MigrationException.SYNTAX) {
                throw new MigrationException(MigrationException.SYNTAX, "Syntax error: " + e.getMessage());
            }
            throw e;
        }
    }
}
