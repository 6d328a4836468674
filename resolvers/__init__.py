"""Thin resolvers: decode arguments, call one service function, hand back its result."""
