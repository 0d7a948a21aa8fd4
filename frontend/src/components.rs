pub mod console;
pub mod process_table;
pub mod scenario_select;
