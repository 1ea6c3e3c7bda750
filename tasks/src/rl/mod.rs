//! Reinforcement-learning environments (gymnax-exact), policies and evaluation.
