namespace SoftKvm.Devices.FwCfg;

/// <summary>
/// Save and restore of what the guest changes in fw_cfg: the selected item and the read position in it (the
/// items themselves are the machine's configuration, built again for a restore).
/// </summary>
public sealed partial class FwCfgDevice
{
    /// <summary>The selected item's key (null when the selector names no item) and the offset of the next byte.</summary>
    public (ushort? Key, int Offset) SaveSelection()
    {
        lock (_lock)
        {
            foreach (var (key, data) in _items)
            {
                if (ReferenceEquals(data, _current))
                {
                    return (key, _offset);
                }
            }

            return (null, _offset);
        }
    }

    /// <summary>Selects <paramref name="key"/> (or nothing) with the read position at <paramref name="offset"/> (clamped to the item).</summary>
    public void RestoreSelection(ushort? key, int offset)
    {
        lock (_lock)
        {
            _current = key is ushort k ? _items.GetValueOrDefault(k) : null;
            _offset = Math.Clamp(offset, 0, _current?.Length ?? 0);
        }
    }
}
