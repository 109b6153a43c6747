pub mod exec;
pub mod tools;
pub mod workspace;
