package org.dcache.migration;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

import org.dcache.migration.internal.Codec;
import org.dcache.migration.internal.NativeLibrary;
import org.dcache.migration.internal.Natives;

/**
 * What a pool cell needs to offer the module's admin commands in its shell: the command names
 * ({@code migration copy}, {@code migration info}, …), each command's help text, and
 * {@link #execute(String)}. A cell registers each name with its help and hands every matching
 * line to {@code execute}.
 *
 * <p>A shell with typed commands (dCache's annotated {@code @Command} classes) can also register
 * each command's options and arguments: {@link #options(String)} lists the options with their
 * dCache category, type and value syntax, {@link #arguments(String)} the positional arguments,
 * and {@link #summary(String)} the one-line hint.
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

    /**
     * The help page of a command, or the list of commands for an empty name (or for the first
     * words of several commands, e.g. {@code migration set}).
     *
     * @throws MigrationException with {@link MigrationException#SYNTAX}
     *         ({@code No such command: <name>}) when no command starts with {@code command}
     */
    public String help(String command)
    {
        NativeLibrary.load();
        return Natives.help(Objects.requireNonNull(command, "command"));
    }

    /**
     * The options of a command, in the order the module declares them (its help page groups
     * them by category): name, type, dCache category ({@code Filter options}, …; empty for
     * none), value syntax ({@code =<n>|[<n>]..[<m>]}, empty for a flag) and help text.
     * A command without options has an empty list.
     *
     * @throws MigrationException with {@link MigrationException#NOT_FOUND}
     *         ({@code No such command: <name>}) unless {@code command} names exactly one
     *         command of {@link #names()}
     */
    public List<CommandOption> options(String command)
    {
        return schema(command).options;
    }

    /**
     * The positional arguments of a command, in order; the last one may be variadic
     * ({@code TARGET...} of {@code migration copy}).
     *
     * @throws MigrationException with {@link MigrationException#NOT_FOUND} for an unknown command
     */
    public List<CommandArgument> arguments(String command)
    {
        return schema(command).arguments;
    }

    /**
     * The one line describing a command, as the command list shows it (dCache's {@code hint}).
     *
     * @throws MigrationException with {@link MigrationException#NOT_FOUND} for an unknown command
     */
    public String summary(String command)
    {
        return schema(command).summary;
    }

    private static Codec.CommandSchema schema(String command)
    {
        NativeLibrary.load();
        return Codec.decodeCommandSpec(Natives.commandSpec(Objects.requireNonNull(command, "command")));
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
