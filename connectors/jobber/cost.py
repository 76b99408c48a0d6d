"""Jobber's query cost, computed from the query alone as Jobber documents it (developer.getjobber.com, API rate
limits): the client knows what a query will cost before sending it — so it waits for exactly that many points —
and the sandbox charges the same."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    VariableNode,
    build_schema,
    get_named_type,
    is_abstract_type,
    parse,
)
from graphql.utilities import get_operation_ast

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
PAGE_MAX = 100  # nodes per connection page, and the `first` a connection is costed at when none is given
#: fields that cost nothing in Jobber's query-cost formula
FREE_FIELDS = frozenset({"edges", "nodes", "node", "pageInfo", "__typename"})
#: the fields of a connection whose cost is multiplied by the page size
PAGED_FIELDS = frozenset({"edges", "nodes"})


@cache
def schema() -> GraphQLSchema:
    """The schema subset fieldbridge reads (no resolvers)."""
    return build_schema(SCHEMA_PATH.read_text())


@cache
def _parsed(query: str) -> DocumentNode:
    return parse(query)


def requested_cost(query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None) -> int:
    """What Jobber will ask for `query` (its `requestedQueryCost`)."""
    document = _parsed(query)
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    return RequestedCost(schema(), document, operation, variables or {}).total(operation)


class RequestedCost:
    """`requestedQueryCost`, from the query alone (Jobber computes it before running anything): every field costs
    1 except `edges`, `nodes`, `node`, `pageInfo` and `__typename` (0); a connection (a type named *Connection)
    costs 1 + first × (the cost of its `nodes`/`edges` selections) + its other selections once (`pageInfo`'s
    fields, `totalCount`), `first` being the argument (variables resolved, capped at 100) or 100 when absent.
    Fragments count where they are spread; on a union the branches are alternatives, so the dearest type's
    fragments count (max over types, sum within one type)."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                 variables: dict[str, Any]) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        defaults = {v.variable.name.value: int(v.default_value.value) for v in operation.variable_definitions or ()
                    if isinstance(v.default_value, IntValueNode)}
        self.variables = {**defaults, **variables}

    def total(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        return self.selection_set(operation.selection_set, root) if root else 0

    def selection_set(self, selections: SelectionSetNode, parent: GraphQLNamedType) -> int:
        total, by_type = 0, {}
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
                continue
            target, inner = self._fragment(selection, parent)
            cost = self.selection_set(inner, target)
            if is_abstract_type(parent) and target is not parent:
                by_type[target.name] = by_type.get(target.name, 0) + cost
            else:
                total += cost
        return total + max(by_type.values(), default=0)

    def _fragment(self, node: Any, parent: GraphQLNamedType) -> tuple[GraphQLNamedType, SelectionSetNode]:
        if isinstance(node, FragmentSpreadNode):
            node = self.fragments[node.name.value]
        condition = node.type_condition
        target = self.schema.get_type(condition.name.value) if condition else parent
        return target or parent, node.selection_set

    def field(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        name = node.name.value
        definition = _field_def(self.schema, parent, name)
        if name == "__typename" or definition is None:
            return 0
        own = 0 if name in FREE_FIELDS else 1
        if node.selection_set is None:
            return own
        target = get_named_type(definition.type)
        if target.name.endswith("Connection"):
            return own + self.connection(node, target)
        return own + self.selection_set(node.selection_set, target)

    def connection(self, node: FieldNode, connection: GraphQLNamedType) -> int:
        assert node.selection_set is not None
        per_node, once = 0, 0
        for child in _flat_fields(node.selection_set, self.fragments):
            cost = self.field(child, connection)
            if child.name.value in PAGED_FIELDS:
                per_node += cost
            else:
                once += cost
        return self.page_size(node) * per_node + once

    def page_size(self, node: FieldNode) -> int:
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        value: Any = None
        if argument is not None and isinstance(argument.value, VariableNode):
            value = self.variables.get(argument.value.name.value)
        elif argument is not None and isinstance(argument.value, IntValueNode):
            value = int(argument.value.value)
        if isinstance(value, bool) or not isinstance(value, int):
            return PAGE_MAX
        return max(0, min(value, PAGE_MAX))


def _field_def(schema: GraphQLSchema, parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    if parent is schema.query_type and name in ("__schema", "__type"):
        return SchemaMetaFieldDef if name == "__schema" else TypeMetaFieldDef
    return parent.fields.get(name) if isinstance(parent, GraphQLObjectType) else None


def _flat_fields(selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]) -> list[FieldNode]:
    """The fields of a selection on an object type, fragments spread in."""
    out: list[FieldNode] = []
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out += _flat_fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            out += _flat_fields(fragments[selection.name.value].selection_set, fragments)
    return out
