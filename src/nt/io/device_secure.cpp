// IoCreateDeviceSecure and the SDDL_DEVOBJ_* strings (wdmsec.h).
#include <wdm.h>
#include <wdmsec.h>

#include <string_view>

namespace {

constexpr UNICODE_STRING constant_string(const char16_t *text, USHORT units) {
  return UNICODE_STRING{static_cast<USHORT>(units * sizeof(WCHAR)),
                        static_cast<USHORT>((units + 1) * sizeof(WCHAR)),
                        reinterpret_cast<PWCH>(const_cast<char16_t *>(text))};
}

#define UWSK_SDDL(name, text)                                                                      \
  extern "C" const UNICODE_STRING name =                                                           \
      constant_string(text, static_cast<USHORT>(std::u16string_view(text).size()))

// The access-right codes SDDL allows in an ACE (two letters each).
constexpr std::u16string_view right_codes[] = {
    u"GA", u"GR", u"GW", u"GX", u"RC", u"SD", u"WD", u"WO", u"RP", u"WP", u"CC", u"DC", u"LC",
    u"SW", u"LO", u"DT", u"CR", u"FA", u"FR", u"FW", u"FX", u"KA", u"KR", u"KW", u"KX"};
// The trustee abbreviations IoCreateDeviceSecure is documented to accept.
constexpr std::u16string_view trustee_codes[] = {u"SY", u"BA", u"WD", u"RC", u"LS", u"NS",
                                                 u"AU", u"BU", u"BG", u"IU", u"NU", u"AN",
                                                 u"PU", u"SO", u"AO", u"RD", u"BO"};

bool is_hex(char16_t c) {
  return (c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f') || (c >= u'A' && c <= u'F');
}

bool valid_rights(std::u16string_view rights) {
  if (rights.starts_with(u"0x") || rights.starts_with(u"0X")) {
    rights.remove_prefix(2);
    if (rights.empty() || rights.size() > 8) {
      return false;
    }
    for (char16_t c : rights) {
      if (!is_hex(c)) {
        return false;
      }
    }
    return true;
  }
  if (rights.empty() || rights.size() % 2 != 0) {
    return false;
  }
  for (std::size_t i = 0; i < rights.size(); i += 2) {
    bool known = false;
    for (std::u16string_view code : right_codes) {
      known = known || rights.substr(i, 2) == code;
    }
    if (!known) {
      return false;
    }
  }
  return true;
}

bool valid_trustee(std::u16string_view sid) {
  for (std::u16string_view code : trustee_codes) {
    if (sid == code) {
      return true;
    }
  }
  // A SID in full: S-1-<authority>(-<sub-authority>)*.
  if (!sid.starts_with(u"S-1-")) {
    return false;
  }
  sid.remove_prefix(4);
  bool digit_seen = false;
  for (char16_t c : sid) {
    if (c >= u'0' && c <= u'9') {
      digit_seen = true;
    } else if (c == u'-' && digit_seen) {
      digit_seen = false;
    } else {
      return false;
    }
  }
  return digit_seen;
}

// "D:P" followed by allow ACEs "(A;;rights;;;trustee)" (flags and object GUIDs empty).
bool valid_device_sddl(std::u16string_view sddl) {
  if (!sddl.starts_with(u"D:P")) {
    return false;
  }
  sddl.remove_prefix(3);
  while (!sddl.empty()) {
    if (!sddl.starts_with(u"(A;;")) {
      return false;
    }
    const std::size_t close = sddl.find(u')');
    if (close == std::u16string_view::npos) {
      return false;
    }
    std::u16string_view ace = sddl.substr(4, close - 4); // rights;;;trustee
    const std::size_t rights_end = ace.find(u';');
    if (rights_end == std::u16string_view::npos || !ace.substr(rights_end).starts_with(u";;;")) {
      return false;
    }
    if (!valid_rights(ace.substr(0, rights_end)) || !valid_trustee(ace.substr(rights_end + 3))) {
      return false;
    }
    sddl.remove_prefix(close + 1);
  }
  return true;
}

} // namespace

UWSK_SDDL(SDDL_DEVOBJ_KERNEL_ONLY, u"D:P");
UWSK_SDDL(SDDL_DEVOBJ_SYS_ALL, u"D:P(A;;GA;;;SY)");
UWSK_SDDL(SDDL_DEVOBJ_SYS_ALL_ADM_ALL, u"D:P(A;;GA;;;SY)(A;;GA;;;BA)");
UWSK_SDDL(SDDL_DEVOBJ_SYS_ALL_ADM_RX, u"D:P(A;;GA;;;SY)(A;;GRGX;;;BA)");
UWSK_SDDL(SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_R, u"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GR;;;WD)");
UWSK_SDDL(SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RW_RES_R,
          u"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GRGW;;;WD)(A;;GR;;;RC)");
UWSK_SDDL(SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RWX_RES_RWX,
          u"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GRGWGX;;;WD)(A;;GRGWGX;;;RC)");

// IoCreateDeviceSecure: IoCreateDevice after checking the device's SDDL string (wdmsec.h).
extern "C" NTSTATUS NTAPI IoCreateDeviceSecure(
    PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,
    DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
    PCUNICODE_STRING DefaultSDDLString, LPCGUID DeviceClassGuid, PDEVICE_OBJECT *DeviceObject) {
  (void)DeviceClassGuid;
  if (DefaultSDDLString == nullptr || DefaultSDDLString->Buffer == nullptr ||
      (DefaultSDDLString->Length & 1) != 0 ||
      !valid_device_sddl(
          std::u16string_view(reinterpret_cast<const char16_t *>(DefaultSDDLString->Buffer),
                              DefaultSDDLString->Length / sizeof(WCHAR)))) {
    return STATUS_INVALID_PARAMETER;
  }
  return IoCreateDevice(DriverObject, DeviceExtensionSize, DeviceName, DeviceType,
                        DeviceCharacteristics, Exclusive, DeviceObject);
}
