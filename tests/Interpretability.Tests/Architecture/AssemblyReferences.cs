using System.Reflection;
using System.Reflection.Emit;

namespace Interpretability.Tests.Architecture;

/// <summary>A use of one type by code of another namespace, with where it happens (for the failure message).</summary>
/// <param name="From">Namespace of the using code.</param>
/// <param name="To">Namespace of the used type.</param>
/// <param name="Where">The type and member whose code or signature uses it.</param>
/// <param name="Used">The used type's full name.</param>
public sealed record NamespaceUse(string From, string To, string Where, string Used);

/// <summary>
/// Reads a compiled assembly and lists, for every type, the types of the same assembly that its signatures and method
/// bodies use: base types, interfaces, fields, properties, parameters, return types, generic arguments, attributes,
/// and every type, method and field token of the IL (calls, allocations, field access, casts, <c>typeof</c>). Compiler
/// generated closures and state machines count for the namespace of the type that declares them.
/// </summary>
public static class AssemblyReferences
{
    private static readonly OpCode[] OneByte = new OpCode[256];
    private static readonly OpCode[] TwoByte = new OpCode[256];

    static AssemblyReferences()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)field.GetValue(null)!;
            var value = (ushort)op.Value;
            if (value < 0x100) OneByte[value] = op;
            else if ((value & 0xff00) == 0xfe00) TwoByte[value & 0xff] = op;
        }
    }

    /// <summary>The namespace a type's code belongs to: the namespace of its outermost declaring type.</summary>
    public static string? NamespaceOf(Type type)
    {
        while (type.DeclaringType is not null) type = type.DeclaringType;
        return type.Namespace;
    }

    /// <summary>Every use of a type of <paramref name="assembly"/> by code of another of its namespaces.</summary>
    /// <param name="assembly">The assembly to read.</param>
    /// <param name="unresolved">Receives the tokens that could not be resolved (a sign that uses were missed).</param>
    public static IReadOnlyList<NamespaceUse> CrossNamespaceUses(Assembly assembly, List<string> unresolved)
    {
        var uses = new List<NamespaceUse>();
        foreach (var type in assembly.GetTypes())
        {
            var from = NamespaceOf(type);
            if (from is null) continue;                       // <PrivateImplementationDetails>, anonymous types
            void Use(Type? t, string where)
            {
                foreach (var used in Expand(t))
                {
                    if (used.Assembly != assembly) continue;
                    var to = NamespaceOf(used);
                    if (to is null || to == from) continue;
                    uses.Add(new NamespaceUse(from, to, where, used.FullName ?? used.Name));
                }
            }

            var name = type.FullName ?? type.Name;
            Use(type.BaseType, name + " (base type)");
            foreach (var i in type.GetInterfaces()) Use(i, name + " (interface)");
            foreach (var a in type.GetCustomAttributesData()) Use(a.AttributeType, name + " (attribute)");
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var f in type.GetFields(all)) Use(f.FieldType, $"{name}.{f.Name}");
            foreach (var p in type.GetProperties(all)) Use(p.PropertyType, $"{name}.{p.Name}");
            foreach (var m in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                var where = $"{name}.{m.Name}";
                if (m is MethodInfo mi) Use(mi.ReturnType, where);
                foreach (var p in m.GetParameters()) Use(p.ParameterType, where);
                foreach (var a in m.GetCustomAttributesData()) Use(a.AttributeType, where);
                MethodBody? body;
                try { body = m.GetMethodBody(); }
                catch (Exception e) when (e is BadImageFormatException or InvalidOperationException) { body = null; }
                if (body is null) continue;
                foreach (var local in body.LocalVariables) Use(local.LocalType, where);
                foreach (var operand in Tokens(m, body, unresolved))
                {
                    switch (operand)
                    {
                        case Type t: Use(t, where); break;
                        case FieldInfo f: Use(f.DeclaringType, where); Use(f.FieldType, where); break;
                        case MethodBase mb:
                            Use(mb.DeclaringType, where);
                            if (mb.IsGenericMethod) foreach (var g in mb.GetGenericArguments()) Use(g, where);
                            break;
                    }
                }
            }
        }
        return uses;
    }

    /// <summary>Every string literal (<c>ldstr</c>) in the methods of <paramref name="assembly"/>, with the method it is in.</summary>
    public static IEnumerable<(string Where, string Text)> StringLiterals(Assembly assembly) =>
        Instructions(assembly).Where(i => i.Operand is string).Select(i => (i.Where, (string)i.Operand!));

    /// <summary>Every method called (or referenced by <c>ldftn</c>) in <paramref name="assembly"/>, with the calling type.</summary>
    public static IEnumerable<(Type Caller, string Where, MethodBase Callee)> Calls(Assembly assembly) =>
        Instructions(assembly).Where(i => i.Operand is MethodBase).Select(i => (i.Caller, i.Where, (MethodBase)i.Operand!));

    private static IEnumerable<(Type Caller, string Where, object? Operand)> Instructions(Assembly assembly)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var ignored = new List<string>();
        foreach (var type in assembly.GetTypes())
        foreach (var m in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
        {
            var body = m.GetMethodBody();
            if (body is null) continue;
            foreach (var operand in Tokens(m, body, ignored, strings: true))
                yield return (type, $"{type.FullName}.{m.Name}", operand);
        }
    }

    private static IEnumerable<Type> Expand(Type? type)
    {
        if (type is null) yield break;
        if (type.HasElementType)
        {
            foreach (var t in Expand(type.GetElementType())) yield return t;
            yield break;
        }
        if (type.IsGenericParameter) yield break;
        yield return type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        if (type.IsGenericType)
            foreach (var arg in type.GetGenericArguments())
            foreach (var t in Expand(arg))
                yield return t;
    }

    private static IEnumerable<object?> Tokens(MethodBase method, MethodBody body, List<string> unresolved, bool strings = false)
    {
        var il = body.GetILAsByteArray();
        if (il is null) yield break;
        var module = method.Module;
        var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int pos = 0;
        while (pos < il.Length)
        {
            OpCode op;
            var b = il[pos++];
            if (b == 0xfe) op = TwoByte[il[pos++]];
            else op = OneByte[b];
            int size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, pos),
                _ => 4,
            };
            if (op.OperandType is OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType
                or OperandType.InlineString)
            {
                var token = BitConverter.ToInt32(il, pos);
                object? resolved = null;
                try
                {
                    resolved = op.OperandType switch
                    {
                        OperandType.InlineString => strings ? module.ResolveString(token) : null,
                        OperandType.InlineType => module.ResolveType(token, typeArgs, methodArgs),
                        OperandType.InlineField => module.ResolveField(token, typeArgs, methodArgs),
                        OperandType.InlineMethod => module.ResolveMethod(token, typeArgs, methodArgs),
                        _ => module.ResolveMember(token, typeArgs, methodArgs),
                    };
                }
                catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException or FileNotFoundException or MissingMemberException)
                {
                    unresolved.Add($"{method.DeclaringType?.FullName}.{method.Name}: token 0x{token:x8} ({e.GetType().Name}: {e.Message})");
                }
                if (resolved is not null) yield return resolved;
            }
            pos += size;
        }
    }
}
