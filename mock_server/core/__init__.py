"""The pure core: clock, ids, task record, identity, scenarios, lifecycle, render, actions."""
