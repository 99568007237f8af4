package org.dcache.migration;

import java.util.Objects;

/**
 * One positional argument of an admin command, as {@link MigrationCommands#arguments(String)}
 * lists it: in the terms of dCache's {@code @Argument} annotation ({@code index},
 * {@code required}, {@code metaVar}). Immutable.
 */
public final class CommandArgument
{
    private final int index;
    private final String name;
    private final boolean required;
    private final boolean variadic;

    /** Made by the facade from the module's schema; public for tests and bridges. */
    public CommandArgument(int index, String name, boolean required, boolean variadic)
    {
        this.index = index;
        this.name = Objects.requireNonNull(name, "name");
        this.required = required;
        this.variadic = variadic;
    }

    /** Its position, from 0. */
    public int index()
    {
        return index;
    }

    /** Its name in the synopsis, e.g. {@code JOB} or {@code TARGET}. */
    public String name()
    {
        return name;
    }

    /** Whether the command needs it. */
    public boolean isRequired()
    {
        return required;
    }

    /**
     * Whether it may repeat (the last argument only): it takes every remaining word, as a
     * {@code String[]} field in dCache.
     */
    public boolean isVariadic()
    {
        return variadic;
    }

    @Override
    public boolean equals(Object o)
    {
        if (!(o instanceof CommandArgument)) {
            return false;
        }
        CommandArgument a = (CommandArgument) o;
        return a.index == index && a.name.equals(name) && a.required == required && a.variadic == variadic;
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(index, name, required, variadic);
    }

    /** As the synopsis shows it: {@code JOB}, {@code [TARGET]...}. */
    @Override
    public String toString()
    {
        String s = required ? name : "[" + name + "]";
        return variadic ? s + "..." : s;
    }
}
