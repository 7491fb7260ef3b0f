// Hidden scaffolding of the front-page doctests (forge-holder's and
// forge-fabric's): the segment a doctest's program holds, named after the
// doctest's process and passed in FORGE_SEGMENT, and the SIGTERM that ends
// the program once it holds its role (and, for a consumer, has read what
// was written). Unlinked on drop.

/// A segment for one doctest.
pub struct Ring(String);

impl Ring {
    /// An empty ring; SIGTERM once a producer holds it.
    pub fn for_a_producer() -> Ring {
        Ring::new(forge_fabric::Role::Producer, 0)
    }

    /// A ring holding three frames; SIGTERM once a consumer has read them.
    pub fn for_a_consumer() -> Ring {
        Ring::new(forge_fabric::Role::Consumer, 3)
    }

    fn new(role: forge_fabric::Role, frames: u8) -> Ring {
        let name = format!("/forge_doc_front_{}_{}", role.name(), std::process::id());
        let opts = forge_fabric::CreateOptions {
            slot_count: 8,
            ..Default::default()
        };
        let segment = forge_fabric::Segment::create(&name, &opts).expect("a doctest's ring");
        if frames > 0 {
            let mut producer = segment.producer().expect("the producer role");
            for i in 0..frames {
                producer.write_from(&[i; 8]).expect("room for a frame");
            }
        }
        std::env::set_var("FORGE_SEGMENT", &name);
        std::thread::spawn(move || {
            let held = || {
                segment.live_holder().map(|(r, _)| r) == Some(role)
                    && segment.indices().1 >= u64::from(frames)
            };
            while !held() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM);
        });
        Ring(name)
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let _ = forge_fabric::segment::unlink(&self.0);
    }
}
