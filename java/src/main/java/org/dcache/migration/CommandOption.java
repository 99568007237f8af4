package org.dcache.migration;

import java.util.List;
import java.util.Objects;

/**
 * One option of an admin command, as {@link MigrationCommands#options(String)} lists it: what a
 * dCache pool needs to register the command with typed options, in the terms of dCache's
 * {@code @Option} annotation ({@code name}, {@code category}, {@code values}, {@code metaVar},
 * {@code usage}). Immutable.
 *
 * <p>Given with a leading dash: {@code -permanent}, {@code -accessed=..600}. The module parses
 * and validates the values itself when the whole line reaches {@link MigrationCommands#execute};
 * the type tells a shell how to offer the option (completion, a typed field), not how to
 * convert it for the module.
 */
public final class CommandOption
{
    /** How an option's value is written. */
    public enum Type
    {
        /** No value: {@code -name}, or {@code -name=true|false}. A {@code boolean} field in dCache. */
        FLAG,
        /** A 32-bit integer in {@code Integer.decode} syntax. An {@code Integer} field. */
        INT,
        /** A 64-bit integer in {@code Long.decode} syntax. A {@code Long} field. */
        LONG,
        /** Any text, including the empty string. A {@code String} field. */
        STRING,
        /** One of {@link CommandOption#values()}, case-sensitive. A {@code String} field with {@code values}. */
        ENUM,
        /**
         * Comma-separated values; repeated options add up. A {@code String[]} field with
         * {@code separator = ","}.
         */
        LIST
    }

    private final String name;
    private final Type type;
    private final List<String> values;
    private final String category;
    private final String valueSyntax;
    private final String metaVar;
    private final String help;

    /** Made by the facade from the module's schema; public for tests and bridges. */
    public CommandOption(String name, Type type, List<String> values, String category, String valueSyntax,
                         String metaVar, String help)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.type = Objects.requireNonNull(type, "type");
        this.values = List.copyOf(values);
        this.category = Objects.requireNonNull(category, "category");
        this.valueSyntax = Objects.requireNonNull(valueSyntax, "valueSyntax");
        this.metaVar = Objects.requireNonNull(metaVar, "metaVar");
        this.help = Objects.requireNonNull(help, "help");
    }

    /** The name without the leading dash, e.g. {@code accessed}. */
    public String name()
    {
        return name;
    }

    /** How the value is written. */
    public Type type()
    {
        return type;
    }

    /** Whether the option takes a value ({@code -name=value}); false for a {@link Type#FLAG}. */
    public boolean takesValue()
    {
        return type != Type.FLAG;
    }

    /** The allowed values of a {@link Type#ENUM} option ({@code keep}, {@code move}), else empty. */
    public List<String> values()
    {
        return values;
    }

    /**
     * dCache's option category, under which the help page groups the option: {@code Filter
     * options}, {@code Transfer options}, {@code Target options} or {@code Lifetime options};
     * empty for none (as {@code @Option}'s default).
     */
    public String category()
    {
        return category;
    }

    /**
     * The value as the help page shows it after the name: {@code =<n>|[<n>]..[<m>]},
     * {@code =keep|move}; empty for a flag.
     */
    public String valueSyntax()
    {
        return valueSyntax;
    }

    /**
     * The value's placeholder as the module declares it ({@code <n>|[<n>]..[<m>]}, {@code <id>}),
     * or empty: {@link #valueSyntax()} is the form to print.
     */
    public String metaVar()
    {
        return metaVar;
    }

    /** What the option does (dCache's {@code usage}). */
    public String help()
    {
        return help;
    }

    @Override
    public boolean equals(Object o)
    {
        if (!(o instanceof CommandOption)) {
            return false;
        }
        CommandOption c = (CommandOption) o;
        return c.name.equals(name) && c.type == type && c.values.equals(values) && c.category.equals(category)
               && c.valueSyntax.equals(valueSyntax) && c.metaVar.equals(metaVar) && c.help.equals(help);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(name, type, values, category, valueSyntax, metaVar, help);
    }

    /** {@code -name=<value>}, as the help page's option line starts. */
    @Override
    public String toString()
    {
        return "-" + name + valueSyntax;
    }
}
