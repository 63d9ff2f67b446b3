"""pytest-azchaos: chaos-engineering tests of multi-AZ systems, as pytest functions."""
