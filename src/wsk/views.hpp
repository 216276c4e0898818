// The neutral shapes in which Windows structures cross between the provider's two halves.
//
// The Windows half (windows/: windows/dispatch.cpp, windows/registration.cpp, ...) includes wsk.h:
// it owns the dispatch tables, the registration block, and turns each WSK call into a call below.
// The Linux half (linux/: linux/socket.cpp, linux/stream_setup.cpp, ...) includes the Linux socket
// headers and does the work. Windows Winsock headers and Linux socket headers cannot meet in one
// translation unit, so the headers both halves include (this folder's) use neither: Windows
// structures cross as pointers to their bytes, or as the views below.
#pragma once

#include <wdm.h>

namespace uwsk::wsk {

// The socket categories of WskSocket's Flags (docs/wsk-behaviour.md, "Socket categories").
enum class category : UCHAR { basic, listen, connection, datagram, stream };

// Operation flags, translated from the WSK_FLAG_* values by the Windows half so that the core
// needs no Windows header. (Internal values; not Windows facts.)
namespace op_flag {
inline constexpr ULONG nodelay = 0x1;  // WskSend WSK_FLAG_NODELAY
inline constexpr ULONG waitall = 0x2;  // WskReceive WSK_FLAG_WAITALL
inline constexpr ULONG drain = 0x4;    // WskReceive WSK_FLAG_DRAIN
inline constexpr ULONG abortive = 0x8; // WskDisconnect WSK_FLAG_ABORTIVE
} // namespace op_flag

// A WSK_BUF as the core sees it (same layout; windows/dispatch.cpp asserts it).
struct buffer_view {
  PMDL mdl;
  ULONG offset;
  SIZE_T length;
};

// A WSK_BUF_LIST element as the core sees it (same layout; windows/datagram.cpp asserts it).
struct buffer_list_view {
  buffer_list_view *next;
  buffer_view buffer;
};

// A WSK_DATA_INDICATION as the core sees it (same layout; windows/events.cpp asserts it).
struct data_indication_view {
  data_indication_view *next;
  buffer_view buffer;
};

// A WSK_DATAGRAM_INDICATION as the core sees it (same layout; windows/events.cpp asserts it).
struct datagram_indication_view {
  datagram_indication_view *next;
  buffer_view buffer;
  void *control;        // Windows CMSGHDR objects
  ULONG control_length; // bytes at `control`
  void *remote;         // a Windows SOCKADDR
};

// The WSK_INSPECT_ACTION values, as the core sees them.
enum class inspect_action : UCHAR { reject, accept, pend, invalid };

} // namespace uwsk::wsk
