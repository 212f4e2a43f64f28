#![allow(dead_code)]
pub mod burned_text;
pub mod cli;
pub mod head_phantom;
pub mod limits;
pub mod mutations;
pub mod orthanc;
pub mod peers;
pub mod png;
pub mod postgres;
pub mod reference;
pub mod server;
pub mod synthetic;
pub mod trees;
