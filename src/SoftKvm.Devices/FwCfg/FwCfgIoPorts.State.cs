namespace SoftKvm.Devices.FwCfg;

/// <summary>Save and restore of the DMA address register (a guest may have written its high half only).</summary>
public sealed partial class FwCfgIoPorts
{
    /// <summary>The DMA address register as the guest wrote it so far.</summary>
    public ulong DmaAddress
    {
        get
        {
            lock (_lock)
            {
                return _dmaAddress;
            }
        }

        set
        {
            lock (_lock)
            {
                _dmaAddress = value;
            }
        }
    }
}
