//! Native editor and search commands (`open`, `edit`, `search_dir`, ...).
