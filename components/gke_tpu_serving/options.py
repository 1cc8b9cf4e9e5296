"""Resource options shared by the components."""

import pulumi


def inherited_dependencies(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The resources a caller made this component depend on. The engine does not make a component's children wait
    for them, so components pass them on to the children whose creation must wait (a KSA for its namespace, a
    server for its staged weights)."""
    depends_on = opts.depends_on if opts is not None else None
    if depends_on is None:
        return []
    if isinstance(depends_on, pulumi.Resource):
        return [depends_on]
    return [d for d in depends_on if isinstance(d, pulumi.Resource)]  # type: ignore[union-attr]
