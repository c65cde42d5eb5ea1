// SPDX-License-Identifier: MIT OR Apache-2.0
//! The assembly `invoke` fastpath of both arch crates runs the algorithm of
//! [`ipc_core::InvokeLayout`] over the kernel's raw memory. This test runs
//! that algorithm over a live `Kernel`'s bytes and checks that it answers
//! exactly as [`ipc_core::Kernel::invoke`] does wherever it answers, and
//! that it declines no `ping` that `invoke` answers with status 0.

use ipc_core::mock::{Machine, MockArch};
use ipc_core::{Badge, Cap, Kernel, MessageInfo, Reply, Rights, ThreadOp, Utcb};

fn utcb() -> &'static Utcb {
    Box::leak(Box::new(Utcb::new()))
}

/// The layout algorithm: `Some(badge)` where it answers, `None` where it
/// declines (the arch then takes the Rust path).
fn invoke_by_layout(k: &Kernel<MockArch>, cap: u64, tag: MessageInfo) -> Option<u64> {
    let l = Kernel::<MockArch>::INVOKE_LAYOUT;
    if cap >= l.cap_slots || tag.0 != l.ping_tag {
        return None;
    }
    let size = core::mem::size_of_val(k);
    let base = core::ptr::from_ref(k).cast::<u8>();
    let byte = |off: usize| {
        assert!(off < size, "offset {off} outside the kernel ({size} bytes)");
        // SAFETY: inside `*k`, checked above; any byte may be read.
        unsafe { *base.add(off) }
    };
    let t = usize::from(byte(l.current));
    let i = usize::from(byte(l.cap_bases + t)) | cap as usize;
    let slot = l.caps + (i << l.slot_shift);
    if byte(slot + l.slot_rights) != l.thread_control {
        return None;
    }
    assert!(slot + l.slot_badge + 8 <= size);
    // SAFETY: inside `*k`, checked above.
    Some(unsafe { base.add(slot + l.slot_badge).cast::<u64>().read_unaligned() })
}

/// Two tasks with thread capabilities in assorted slots; `second_first`
/// makes the second task's thread the one that runs.
fn world(second_first: bool) -> Machine {
    let mut m = Machine::new();
    let k = &mut m.kernel;
    let t1 = k.create_task(0x1000).unwrap();
    let t2 = k.create_task(0x2000).unwrap();
    let (a, b) = if second_first {
        let b = k
            .create_thread(t2, 0x40_0000, 0x7000, 1, Some(utcb()))
            .unwrap();
        (
            k.create_thread(t1, 0x40_0000, 0x7000, 1, Some(utcb()))
                .unwrap(),
            b,
        )
    } else {
        let a = k
            .create_thread(t1, 0x40_0000, 0x7000, 1, Some(utcb()))
            .unwrap();
        (
            a,
            k.create_thread(t2, 0x40_0000, 0x7000, 1, Some(utcb()))
                .unwrap(),
        )
    };
    let ep = k.create_endpoint().unwrap();
    k.set_cap(
        t1,
        1,
        Cap::Endpoint {
            ep,
            rights: Rights::ALL,
            badge: Badge(0xB1),
        },
    )
    .unwrap();
    k.set_cap(
        t1,
        3,
        Cap::Thread {
            thread: a,
            rights: Rights::CONTROL,
            badge: Badge(0x7A11),
        },
    )
    .unwrap();
    k.set_cap(
        t1,
        4,
        Cap::Thread {
            thread: a,
            rights: Rights(0),
            badge: Badge(0x7A12),
        },
    )
    .unwrap();
    k.set_cap(
        t1,
        15,
        Cap::Thread {
            thread: b,
            rights: Rights::CONTROL,
            badge: Badge(0x7A15),
        },
    )
    .unwrap();
    k.set_cap(
        t1,
        5,
        Cap::Thread {
            thread: b,
            rights: Rights::ALL,
            badge: Badge(0x7A05),
        },
    )
    .unwrap();
    k.set_cap(
        t2,
        0,
        Cap::Thread {
            thread: b,
            rights: Rights::CONTROL,
            badge: Badge(0xD0),
        },
    )
    .unwrap();
    k.set_cap(
        t2,
        3,
        Cap::Endpoint {
            ep,
            rights: Rights::ALL,
            badge: Badge(0xD3),
        },
    )
    .unwrap();
    m.start();
    m
}

#[test]
fn the_layout_algorithm_agrees_with_invoke() {
    let tags = [
        ThreadOp::Ping.tag(),
        MessageInfo::new(1, 1),
        MessageInfo(ThreadOp::Ping.tag().0 | 1 << 8),
        MessageInfo(0),
        MessageInfo::new(2, 0),
    ];
    for (second_first, want) in [(false, 2), (true, 1)] {
        let m = world(second_first);
        let k = &m.kernel;
        let mut answered = 0;
        for cap in (0..20).chain([1 << 32, 1 << 32 | 3, u64::MAX]) {
            for tag in tags {
                let reply = k.invoke(cap, tag);
                match invoke_by_layout(k, cap, tag) {
                    Some(badge) => {
                        assert_eq!(
                            reply,
                            Reply {
                                status: 0,
                                value: badge
                            },
                            "cap {cap} {tag:?}"
                        );
                        answered += 1;
                    }
                    None => assert!(
                        reply.status != 0 || tag != ThreadOp::Ping.tag(),
                        "the layout declines a ping that invoke answers: cap {cap}"
                    ),
                }
            }
        }
        // First world: slots 3 and 15 of task 1; second: slot 0 of task 2.
        assert_eq!(answered, want, "second_first {second_first}");
    }
}

#[test]
fn the_layout_is_short() {
    // The entries keep the address of `current` and reach the rest with
    // short immediates (AArch64's byte loads take 12 bits).
    let l = Kernel::<MockArch>::INVOKE_LAYOUT;
    assert_eq!(l.cap_bases, l.current + 1);
    assert!(l.caps > l.cap_bases && l.caps.is_multiple_of(16) && l.caps - l.current < 4096);
}
